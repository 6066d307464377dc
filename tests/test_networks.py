"""Specifications of tfvae.networks.multiply_adds: the cost of each layer as {eq}`eq-layer-cost` counts it,
checked by hand for the paper's MLP and the conv pair on MNIST-sized images."""

import keras
import numpy as np
import pytest

from tfvae import networks
from tfvae.errors import InvalidInputError


def test_the_mlp_costs_one_multiply_add_per_weight():
    costs = networks.multiply_adds(networks.mlp_encoder((28, 28), 40, hidden_units=500))
    assert costs == {"hidden": 784 * 500, "parameters": 500 * 40}


def test_the_conv_pair_costs_what_the_output_and_input_positions_say():
    encoder = networks.conv_encoder((28, 28), 40)
    assert sorted(networks.multiply_adds(encoder).values()) == sorted([
        14 * 14 * 9 * 1 * 32,   # stride 2: 14 x 14 output positions
        7 * 7 * 9 * 32 * 64,    # then 7 x 7
        7 * 7 * 64 * 40,        # the dense map from the flattened 7 x 7 x 64 features
    ])
    decoder = networks.conv_decoder(20, (28, 28))
    assert sorted(networks.multiply_adds(decoder).values()) == sorted([
        20 * 7 * 7 * 64,        # dense to a 7 x 7 x 64 map
        7 * 7 * 9 * 64 * 64,    # transposed, stride 2: one 3 x 3 x 64 patch per input position (7 x 7)
        14 * 14 * 9 * 64 * 32,  # transposed, stride 2, from 14 x 14
        28 * 28 * 9 * 32 * 1,   # transposed, stride 1, to one number per pixel
    ])


def test_a_layer_it_cannot_cost_is_named():
    network = keras.Sequential([keras.layers.Input((4,)), keras.layers.Embedding(10, 3, name="lookup")])
    with pytest.raises(InvalidInputError, match="lookup"):
        networks.multiply_adds(network)


def test_the_deep_mlp_has_two_relu_layers_in_the_encoder_and_three_in_the_decoder():
    encoder = networks.encoder("deep_mlp", (32, 32), 20, hidden_units=64)
    decoder = networks.decoder("deep_mlp", 10, (32, 32), hidden_units=64)
    assert networks.multiply_adds(encoder) == {"hidden_1": 1024 * 64, "hidden_2": 64 * 64, "parameters": 64 * 20}
    assert networks.multiply_adds(decoder) == {"hidden_1": 10 * 64, "hidden_2": 64 * 64, "hidden_3": 64 * 64,
                                               "parameters": 64 * 1024}
    hidden = [layer for network in (encoder, decoder) for layer in network.layers if layer.name.startswith("hidden")]
    assert [layer.activation.__name__ for layer in hidden] == ["relu"] * 5
    assert decoder.output_shape == (None, 32, 32)


def test_a_saved_deep_mlp_model_loads_with_the_same_decoder(tmp_path):
    from tfvae import models, serialization

    model = models.build(image_shape=(8, 8), latent_dim=3, architecture="deep_mlp", hidden_units=16)
    z = np.random.default_rng(0).normal(size=(5, 3)).astype(np.float32)
    serialization.save(model, tmp_path / "deep")
    loaded = serialization.load(tmp_path / "deep")
    np.testing.assert_array_equal(loaded.decode(z).mean().numpy(), model.decode(z).mean().numpy())
