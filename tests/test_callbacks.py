"""Specifications of tfvae.training.callbacks: BoundCurve records the bound at log-spaced numbers of
samples seen. (KLWarmup's are in test_annealing.py, beside the schedule it applies.)"""

import numpy as np
import pytest
import tensorflow as tf

from tfvae import data, models, training


@pytest.fixture(scope="module")
def digits():
    return data.load("digits", max_train=200)


def test_bound_curve_records_the_bound_at_log_spaced_sample_counts(digits):
    training.set_seed(0)
    model = models.build(image_shape=digits.image_shape, latent_dim=2, hidden_units=16)
    curve = training.BoundCurve(digits.binarized("train")[:100], digits.binarized("test")[:100],
                                batch_size=10, points_per_decade=2)
    training.fit(model, digits, epochs=2, batch_size=10, binarization="dynamic", validate=False,
                 steps_per_execution=1, callbacks=[curve], verbose=0)
    # Marks at 10, 32, 100, 317 samples seen, then the ends of the two epochs (200, 400).
    assert curve.samples == [10, 40, 100, 200, 320, 400]
    assert len(curve.train) == len(curve.test) == len(curve.samples)
    assert np.isfinite(curve.train).all() and np.isfinite(curve.test).all()
    assert curve.train[-1] > curve.train[0]  # 40 steps of Adam on 200 images raise the bound a lot
    # The compiled bound is the model's ELBO with the curve's fixed noise, as eager ops compute it.
    eager = tf.reduce_mean(model.elbo(digits.binarized("test")[:100], seed=tf.constant([0, 0])).elbo)
    assert curve.test[-1] == pytest.approx(float(eager), abs=1e-4)
