"""The names of every choice tfvae offers, in one place that imports no TensorFlow.

The library checks its arguments against these tuples and the `tfvae` command offers
them as its options' choices, so the two cannot drift apart, and `tfvae --help` stays
instant. A new data set, architecture, likelihood, objective, optimizer, schedule or
strategy is named here first, then implemented where its concept lives.
"""

DATASETS = ("mnist", "fashion_mnist", "digits")        # tfvae.data
BINARIZATIONS = ("none", "static", "dynamic", "dequantized")  # tfvae.data
SPLITS = ("train", "validation", "test")               # tfvae.data
ARCHITECTURES = ("mlp", "deep_mlp", "conv")            # tfvae.networks
LIKELIHOODS = ("bernoulli", "gaussian", "gaussian_fixed", "gaussian_shared", "discretized_logistic")  # p(x|z), tfvae.models.likelihoods
OBJECTIVES = ("elbo", "iwae", "wake_sleep")            # what training maximizes, tfvae.models
CATEGORICAL_ESTIMATORS = ("gumbel_softmax", "straight_through")  # gradients through one-hot codes, tfvae.models
OPTIMIZERS = ("adam", "adagrad", "sgd")                # tfvae.training
LR_SCHEDULES = ("constant", "cosine")                  # tfvae.training
STRATEGIES = ("auto", "default", "mirrored", "multiworker")  # tf.distribute, tfvae.distribute
LABELLED_BINARIZATIONS = ("dynamic", "none")          # a semi-supervised model's stored labelled images, tfvae.models
# alpha, the weight of the classifier's log-likelihood of the labels in a semi-supervised model's
# objective (per labelled image, against the unlabelled bound per image), tfvae.models.semi_supervised
DEFAULT_CLASSIFIER_WEIGHT = 10.0
