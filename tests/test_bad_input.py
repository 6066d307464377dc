"""Bad input fails early with a tfvae error of the right type whose message names the problem.

Each case is one call with one thing wrong; the test checks the error's type and that its
message says what is wrong (the argument's name, the bad value or the file).
"""

import dataclasses

import numpy as np
import pytest

from tfvae import data, distribute, evaluation, models, objectives, serialization, training
from tfvae.errors import CheckpointError, DatasetUnavailableError, InvalidInputError, TfvaeError

SMALL = dict(image_shape=(8, 8), latent_dim=2, hidden_units=8)


@pytest.fixture(scope="module")
def digits():
    return data.load("digits", max_train=200)


@pytest.fixture(scope="module")
def model():
    return models.build(**SMALL)


def with_train_images(ds, x):
    return dataclasses.replace(ds, train=data.Split(x.astype(np.float32), ds.train.y[:len(x)]))


def fit(model, ds, **kwargs):
    settings = dict(epochs=1, jit_compile=False, verbose=0)
    settings.update(kwargs)
    return training.fit(model, ds, **settings)


def nan_images(ds):
    x = ds.train.x.copy()
    x[3, 2, 2] = np.nan
    return with_train_images(ds, x)


def inf_images(ds):
    x = ds.train.x.copy()
    x[0, 0, 0] = np.inf
    x[1, 0, 0] = -np.inf
    return with_train_images(ds, x)


def scaled_images(ds):
    return with_train_images(ds, ds.train.x * 16)  # the raw 0..16 scale of scikit-learn's digits


def encode(model):
    return model.encode, model.decode, model.prior


CASES = {
    # --- images ---
    "wrong image shape for the model": (
        lambda m, d: fit(models.build(**dict(SMALL, image_shape=(28, 28))), d), InvalidInputError,
        r"digits train images has shape \(200, 8, 8\); expected \(n, 28, 28\)"),
    "NaN in the training images": (
        lambda m, d: fit(m, nan_images(d)), InvalidInputError, "train images contains 1 NaN or infinite values"),
    "inf in the training images": (
        lambda m, d: fit(m, inf_images(d)), InvalidInputError, "contains 2 NaN or infinite values"),
    "values outside [0, 1] for a Bernoulli likelihood": (
        lambda m, d: fit(m, scaled_images(d)), InvalidInputError,
        r"values in \[0, 16\], but Bernoulli and discretized-logistic pixels, binarization and dequantization need every value in \[0, 1\]"),
    "values outside [0, 1] to binarize": (
        lambda m, d: data.binarize(np.full((2, 3, 3), 1.5), seed=0), InvalidInputError, r"need every value in \[0, 1\]"),
    "images without a batch axis": (
        lambda m, d: data.binarize(np.zeros(5), seed=0), InvalidInputError, "must have a batch axis and image axes"),
    "no images at all": (
        lambda m, d: evaluation.evaluate(m, dataclasses.replace(d, test=data.Split(np.zeros((0, 8, 8), np.float32),
                                                                                   np.zeros(0, np.int64))), k=2),
        InvalidInputError, "digits test images is empty"),
    "text instead of images": (
        lambda m, d: data.binarize(np.array([["a"]]), seed=0), InvalidInputError, "must be numeric"),
    "NaN in the images evaluated": (
        lambda m, d: evaluation.evaluate(m, dataclasses.replace(d, test=nan_images(d).train), k=2),
        InvalidInputError, "digits test images contains 1 NaN"),
    # --- sizes and counts ---
    "zero latent dimensions": (
        lambda m, d: models.build(**dict(SMALL, latent_dim=0)), InvalidInputError, "latent_dim must be >= 1, got 0"),
    "a fractional latent size": (
        lambda m, d: models.build(**dict(SMALL, latent_dim=2.5)), InvalidInputError,
        "latent_dim must be a positive whole number, got 2.5"),
    "zero hidden units": (
        lambda m, d: models.build(**dict(SMALL, hidden_units=0)), InvalidInputError, "hidden_units must be >= 1"),
    "a negative batch size": (
        lambda m, d: fit(m, d, batch_size=-5), InvalidInputError, "batch_size must be >= 1, got -5"),
    "a zero batch size for a pipeline": (
        lambda m, d: d.pipeline(batch_size=0), InvalidInputError, "batch_size must be >= 1, got 0"),
    "zero epochs": (
        lambda m, d: fit(m, d, epochs=0), InvalidInputError, "epochs must be >= 1, got 0"),
    "zero samples from the model": (
        lambda m, d: m.sample(0), InvalidInputError, "n must be >= 1, got 0"),
    "zero ELBO samples": (
        lambda m, d: objectives.elbo(d.test.x[:2], *encode(m), n_samples=0), InvalidInputError,
        "n_samples must be >= 1, got 0"),
    "zero importance samples": (
        lambda m, d: objectives.importance_weighted_bound(d.test.x[:2], *encode(m), k=0), InvalidInputError,
        "k must be >= 1, got 0"),
    "a zero chunk size": (
        lambda m, d: objectives.importance_weighted_bound(d.test.x[:2], *encode(m), k=4, chunk_size=0),
        InvalidInputError, "chunk_size must be >= 1, got 0"),
    "zero samples decoded at a time": (
        lambda m, d: objectives.importance_weighted_bound(d.test.x[:2], *encode(m), k=4, decode_samples=0),
        InvalidInputError, "decode_samples must be >= 1, got 0"),
    "zero importance samples for the log-likelihood": (
        lambda m, d: objectives.marginal_log_likelihood(m, d.test.x[:2], k=0), InvalidInputError, "k must be >= 1"),
    "zero importance samples to evaluate": (
        lambda m, d: evaluation.evaluate(m, d, k=0), InvalidInputError, "k must be >= 1, got 0"),
    "zero images to evaluate": (
        lambda m, d: evaluation.evaluate(m, d, k=2, max_images=0), InvalidInputError, "max_images must be >= 1"),
    "a validation fraction of one": (
        lambda m, d: data.load("digits", validation_size=1.0), InvalidInputError,
        r"validation_size as a fraction must be in \[0, 1\), got 1.0"),
    "a negative validation count": (
        lambda m, d: data.load("digits", validation_size=-1), InvalidInputError, "validation_size must be a count >= 0"),
    "zero training images": (
        lambda m, d: data.load("digits", max_train=0), InvalidInputError, "max_train must be >= 1"),
    # --- numbers ---
    "a negative learning rate": (
        lambda m, d: fit(m, d, learning_rate=-0.1), InvalidInputError, "learning_rate must be a positive number"),
    "a NaN learning rate": (
        lambda m, d: fit(m, d, learning_rate=float("nan")), InvalidInputError, "learning_rate must be a positive"),
    "a negative beta": (
        lambda m, d: models.build(**dict(SMALL, beta=-1.0)), InvalidInputError, "beta must be a finite number >= 0"),
    "negative free bits": (
        lambda m, d: models.build(**dict(SMALL, free_bits=-0.5)), InvalidInputError, "free_bits must be"),
    "a zero observation scale": (
        lambda m, d: models.build(**dict(SMALL, observation_scale=0.0)), InvalidInputError,
        "observation_scale must be a finite number > 0, got 0.0"),
    "an infinite observation scale": (
        lambda m, d: models.build(**dict(SMALL, observation_scale=float("inf"))), InvalidInputError,
        "observation_scale must be a finite number > 0, got inf"),
    "a conv net on images whose sides are not multiples of 4": (
        lambda m, d: models.build(**dict(SMALL, architecture="conv", image_shape=(10, 10))), InvalidInputError,
        r"multiples of 4, got \(10, 10\)"),
    # --- names ---
    "an unknown dataset": (
        lambda m, d: data.load("cifar10"), InvalidInputError,
        "unknown dataset 'cifar10'; choose one of 'digits', 'fashion_mnist', 'mnist'"),
    "an unknown dataset for the book": (
        lambda m, d: data.load_for_book("svhn"), InvalidInputError, "unknown dataset 'svhn'"),
    "an unknown split": (
        lambda m, d: d.split("dev"), InvalidInputError, "unknown split 'dev'"),
    "an unknown architecture": (
        lambda m, d: models.build(**dict(SMALL, architecture="resnet")), InvalidInputError,
        "unknown architecture 'resnet'; choose one of 'conv', 'deep_mlp', 'mlp'"),
    "an unknown likelihood": (
        lambda m, d: models.build(**dict(SMALL, likelihood="poisson")), InvalidInputError,
        "unknown likelihood 'poisson'"),
    "an unknown model kind": (
        lambda m, d: models.build(**dict(SMALL, kind="gan")), InvalidInputError, "unknown model kind 'gan'"),
    "an unknown objective": (
        lambda m, d: models.build(**dict(SMALL, objective="wake-sleep")), InvalidInputError,
        "unknown objective 'wake-sleep'; choose one of 'elbo', 'iwae', 'wake_sleep'"),
    "an unknown optimizer": (
        lambda m, d: fit(m, d, optimizer="rmsprop"), InvalidInputError,
        "unknown optimizer 'rmsprop'; choose one of 'adagrad', 'adam', 'sgd'"),
    "an unknown binarization": (
        lambda m, d: fit(m, d, binarization="half"), InvalidInputError, "unknown binarization 'half'"),
    "an unknown binarization for a pipeline": (
        lambda m, d: d.pipeline(binarization="otsu"), InvalidInputError, "unknown binarization 'otsu'"),
    "an unknown strategy": (
        lambda m, d: distribute.strategy("tpu"), InvalidInputError, "unknown strategy 'tpu'"),
    "an unknown model setting": (
        lambda m, d: models.ModelConfig.from_dict({"latent_dim": 2, "depth": 3}), InvalidInputError,
        "unknown model settings: depth"),
    # --- files ---
    "a missing data folder": (
        lambda m, d: data.load("fashion_mnist", data_dir="/nonexistent/idx"), DatasetUnavailableError,
        "/nonexistent/idx lacks the IDX files train-images-idx3-ubyte.gz"),
    "a missing checkpoint": (
        lambda m, d: serialization.load("/nonexistent/run"), CheckpointError,
        "no saved model at /nonexistent/run: the folder does not exist"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_bad_input_raises_a_clear_error(case, model, digits):
    call, error_type, message = CASES[case]
    with pytest.raises(error_type, match=message) as error:
        call(model, digits)
    assert isinstance(error.value, TfvaeError)


def test_a_corrupt_checkpoint_config_names_the_file(model, tmp_path):
    folder = serialization.save(model, tmp_path / "m")
    (folder / serialization.CONFIG_FILE).write_text('{"model": {"latent_dim": "two"}')
    with pytest.raises(CheckpointError, match="m/config.json is corrupt or not a tfvae config"):
        serialization.load(folder)
