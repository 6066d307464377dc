"""fit's grouped training loop: many steps per compiled call, the same numbers as one step per call.

Without tf.distribute, `tfvae.training.fit` hands the model groups of minibatches
(steps, batch, h, w) and `train_step` loops over them inside one XLA program. That must
change the speed only: the weights, the optimizer state and the history must be those of
one step per call, bit for bit (the same float32 operations in the same order), and
later epochs must reuse the compiled program instead of tracing it again.
"""

import keras
import numpy as np
import pytest

from tfvae import data, models, training
from tfvae.training.loop import _groups, _steps_per_call

SETTINGS = dict(image_shape=(8, 8), latent_dim=4, hidden_units=32)


@pytest.fixture(scope="module")
def digits():
    return data.load("digits")  # 1,248 training images: 12 full minibatches of 100 and one of 48


def train(ds, steps_per_execution, epochs=2):
    training.set_seed(0)
    model = models.build(**SETTINGS)
    traces = []
    loss_terms = model.loss_terms

    def counted(x, seed=None):  # runs once per trace, not once per step
        traces.append(tuple(x.shape))
        return loss_terms(x, seed)

    model.loss_terms = counted
    history = training.fit(model, ds, epochs=epochs, binarization="dynamic", steps_per_execution=steps_per_execution,
                           verbose=0)
    return model, history, traces


def test_grouped_steps_give_the_same_weights_and_history_as_single_steps(digits):
    single, single_history, _ = train(digits, steps_per_execution=1)
    grouped, grouped_history, _ = train(digits, steps_per_execution=None)  # default: groups of 12
    for a, b in zip(single.get_weights(), grouped.get_weights()):
        np.testing.assert_array_equal(a, b)
    for a, b in zip(single.optimizer.variables, grouped.optimizer.variables):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    for key in ("loss", "elbo", "kl", "val_elbo"):
        assert single_history[key] == grouped_history[key], key
    assert int(grouped.optimizer.iterations.numpy()) == 2 * 13  # every minibatch is one step


def test_numpy_fed_epochs_match_keras_fit_on_a_tf_data_pipeline(digits):
    # fit feeds Keras' compiled step NumPy groups on the calling thread; Keras' own fit
    # reading the same groups from a tf.data pipeline (how fit fed them before) must give
    # the same weights and losses, bit for bit.
    training.set_seed(0)
    ours = models.build(**SETTINGS)
    history = training.fit(ours, digits, epochs=2, binarization="dynamic", validate=False, verbose=0)
    training.set_seed(0)
    theirs = models.build(**SETTINGS)
    theirs.compile(optimizer=keras.optimizers.Adam(1e-3), jit_compile=training.xla_pays(theirs))
    for epoch in range(2):
        batches = digits.epoch_batches("train", batch_size=100, binarization="dynamic", seed=0, epoch=epoch)
        groups = _groups(data.batches_dataset(batches), len(digits.train), 100, _steps_per_call(12))
        result = theirs.fit(groups, epochs=epoch + 1, initial_epoch=epoch, shuffle=False, verbose=0)
        assert history["loss"][epoch] == result.history["loss"][-1]
    for a, b in zip(ours.get_weights(), theirs.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_later_epochs_reuse_the_compiled_step(digits):
    _, _, after_one = train(digits, steps_per_execution=None, epochs=1)
    _, _, after_three = train(digits, steps_per_execution=None, epochs=3)
    assert len(after_three) == len(after_one), (after_one, after_three)


@pytest.mark.parametrize("full_steps, expected", [(550, 55), (12, 12), (97, 97), (101, 100), (600, 100), (0, 1)])
def test_default_group_size_splits_the_epoch_evenly_when_it_can(full_steps, expected):
    assert _steps_per_call(full_steps) == expected
