"""Two classifiers that ask what a model's codes and images are worth.

* A linear probe: a multinomial logistic regression fitted on the codes (or the pixels) of n
  labelled training images and scored on the test images. How well a linear map reads the
  class off a code is the usual test of "a good representation" (and the M1 model of Kingma
  et al., 2014, is a classifier on a VAE's codes).
* A judge: a classifier of images, trained on the data's own pixels, whose confidence
  max_c p(c | x) on a *decoded* image says whether the image looks like some class of the data
  or like none. It judges the images of different models by one standard.
"""

from __future__ import annotations

import numpy as np

from tfvae import checks
from tfvae.errors import InvalidInputError


def _features(x, name: str) -> np.ndarray:
    x = np.asarray(x)
    if x.ndim < 2 or len(x) == 0:
        raise InvalidInputError(f"{name} must have shape (n, ...) with n >= 1, got {x.shape}")
    x = x.reshape(len(x), -1).astype(np.float64)
    if not np.isfinite(x).all():
        raise InvalidInputError(f"{name} contains NaN or infinite values")
    return x


def _class_labels(y, n: int, name: str) -> np.ndarray:
    y = np.asarray(y)
    if y.shape != (n,) or y.dtype.kind not in "iu":
        raise InvalidInputError(f"{name} must be {n} integer labels, got shape {y.shape}, dtype {y.dtype}")
    return y


def linear_probe_accuracy(train_features, train_labels, test_features, test_labels, *, n_labels: int,
                          draws: int = 1, seed: int = 0) -> np.ndarray:
    """Test accuracy of a logistic regression fitted on `n_labels` random labelled training items.

    Each of `draws` fits uses its own random subset of the training items (so the spread over
    draws shows how much the choice of the few labelled images matters). The features are
    standardized with the subset's own mean and spread, so that codes of any scale (an
    autoencoder's, a VAE's, pixels) meet the same L2 penalty (scikit-learn's default, C = 1).

    Shapes: (n_train, ...) features, (n_train,) labels, (n_test, ...) features, (n_test,) labels
    -> (draws,) accuracies in [0, 1].
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    x_train, x_test = _features(train_features, "train_features"), _features(test_features, "test_features")
    if x_train.shape[1] != x_test.shape[1]:
        raise InvalidInputError(f"train and test features differ in size: {x_train.shape[1]} and {x_test.shape[1]}")
    y_train = _class_labels(train_labels, len(x_train), "train_labels")
    y_test = _class_labels(test_labels, len(x_test), "test_labels")
    n_labels, draws = checks.positive_int(n_labels, "n_labels"), checks.positive_int(draws, "draws")
    if n_labels > len(x_train):
        raise InvalidInputError(f"n_labels is {n_labels}, but there are only {len(x_train)} training items")
    rng = np.random.default_rng(seed)
    accuracies = []
    for _ in range(draws):
        chosen = rng.choice(len(x_train), n_labels, replace=False)
        if len(np.unique(y_train[chosen])) < 2:
            raise InvalidInputError(f"{n_labels} labelled items hold only one class; use more labels")
        probe = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))
        probe.fit(x_train[chosen], y_train[chosen])
        accuracies.append(probe.score(x_test, y_test))
    return np.array(accuracies)


def pixel_classifier(images, labels, *, n_classes: int, hidden_units: int = 500, epochs: int = 5,
                     batch_size: int = 100, seed: int = 0):
    """A one-hidden-layer ReLU network trained on grey pixels to predict the class; returns the Keras model.

    The model maps images (n, h, w) to logits (n, n_classes). It is the judge of `confidence`.
    """
    import keras

    x = checks.images(images, "images")
    y = _class_labels(labels, len(x), "labels")
    n_classes = checks.positive_int(n_classes, "n_classes")
    if y.max() >= n_classes:
        raise InvalidInputError(f"labels go up to {y.max()}, but n_classes is {n_classes}")
    keras.utils.set_random_seed(seed)
    model = keras.Sequential([
        keras.layers.Input(x.shape[1:]),
        keras.layers.Flatten(),
        keras.layers.Dense(checks.positive_int(hidden_units, "hidden_units"), activation="relu"),
        keras.layers.Dense(n_classes, name="logits"),
    ], name="pixel_classifier")
    model.compile(optimizer="adam", loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"])
    model.fit(x, y, epochs=checks.positive_int(epochs, "epochs"), batch_size=checks.positive_int(batch_size, "batch_size"),
              verbose=0)
    return model


def class_probabilities(classifier, images, *, batch_size: int = 2000) -> np.ndarray:
    """p(c | x) from a classifier that returns logits. Shapes: (n, h, w) -> (n, n_classes)."""
    import tensorflow as tf

    x = checks.images(images, "images")
    batch_size = checks.positive_int(batch_size, "batch_size")
    return np.concatenate([tf.nn.softmax(classifier(x[i:i + batch_size])).numpy()
                           for i in range(0, len(x), batch_size)])


def predicted_classes(classifier, images, *, batch_size: int = 2000) -> np.ndarray:
    """argmax_c p(c | x): the class a classifier puts each image in. Shapes: (n, h, w) -> (n,) integers."""
    return class_probabilities(classifier, images, batch_size=batch_size).argmax(axis=1)


def accuracy(classifier, images, labels, *, batch_size: int = 2000) -> float:
    """The fraction of images a classifier puts in their labelled class: 1 minus its error rate.

    The labels may be the data's classes or any other target: the class a conditional model was
    asked to draw, or the class the classifier gave an image before it was changed.

    Shapes: (n, h, w) images, (n,) integer labels -> a float in [0, 1].
    """
    x = checks.images(images, "images")
    labels = _class_labels(labels, len(x), "labels")
    return float(np.mean(predicted_classes(classifier, x, batch_size=batch_size) == labels))


def confidence(classifier, images, *, batch_size: int = 2000) -> np.ndarray:
    """max_c p(c | x): how surely the classifier puts each image in some class. Shapes: (n, h, w) -> (n,)."""
    return class_probabilities(classifier, images, batch_size=batch_size).max(axis=1)
