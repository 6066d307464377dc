"""Sliding through the latent space: z -> E[x|z] under sliders, in two front ends.

* `tfvae.explore.static`: `static_explorer(model)`, self-contained HTML + JavaScript for the
  built book (no kernel, no network); the decoder travels inside the page
  (`tfvae.explore.decoder_export`) and `explorer.js` evaluates it in the browser.
* `tfvae.explore.live`: `latent_explorer(model)`, ipywidgets for a live kernel (Jupyter,
  Colab), with the decoder run by TensorFlow.
* `tfvae.explore.anchors`: `encoded_anchors`, encoded images as starting points for both.
"""

from tfvae.explore.anchors import encoded_anchors
from tfvae.explore.live import LatentExplorer, WidgetsUnavailableError, has_widget_front_end, latent_explorer
from tfvae.explore.static import static_explorer

__all__ = ["LatentExplorer", "WidgetsUnavailableError", "encoded_anchors", "has_widget_front_end", "latent_explorer",
           "static_explorer"]
