/* The static latent explorer of tfvae.explore.static_explorer: sliders over z, the decoder's
 * mean E[x|z] drawn on a canvas, computed here in the browser from weights exported by
 * tfvae/decoder_export.py (no kernel, no network).
 *
 * The decoder part (loadDecoder, decode) is pure and runs in Node too, so the tests can
 * compare it with TensorFlow; mount() builds the page's controls.
 */
(function (global) {
  "use strict";

  function bytesFromBase64(text) {
    if (typeof Buffer !== "undefined" && typeof atob === "undefined") {
      return new Uint8Array(Buffer.from(text, "base64"));
    }
    const raw = atob(text);
    const bytes = new Uint8Array(raw.length);
    for (let i = 0; i < raw.length; i++) bytes[i] = raw.charCodeAt(i);
    return bytes;
  }

  function float32FromBase64(text) {
    const bytes = bytesFromBase64(text);
    return new Float32Array(bytes.buffer, 0, bytes.length / 4);
  }

  // n signed integers stored back to back, `bits` bits each, least significant bit first,
  // offset by 2^(bits-1) (see pack_bits in decoder_export.py).
  function unpackBits(bytes, bits, n) {
    const out = new Int32Array(n);
    const offset = 1 << (bits - 1);
    let position = 0;
    for (let k = 0; k < n; k++) {
      let value = 0;
      for (let b = 0; b < bits; b++, position++) {
        value |= ((bytes[position >> 3] >> (position & 7)) & 1) << b;
      }
      out[k] = value - offset;
    }
    return out;
  }

  const ACTIVATIONS = {
    tanh: Math.tanh,
    relu: function (a) { return a > 0 ? a : 0; },
    sigmoid: function (a) { return 1 / (1 + Math.exp(-a)); },
    linear: function (a) { return a; },
  };

  function loadDecoder(spec) {
    if (spec.format !== "tfvae-decoder-1") throw new Error("unknown decoder format " + spec.format);
    const layers = spec.layers.map(function (layer) {
      if (!(layer.activation in ACTIVATIONS)) throw new Error("unknown activation " + layer.activation);
      const n = layer.inputs * layer.outputs;
      const q = unpackBits(bytesFromBase64(layer.kernel.packed), layer.kernel.bits, n);
      const scale = float32FromBase64(layer.kernel.scale);
      const kernel = new Float32Array(n);
      for (let i = 0; i < layer.inputs; i++) {
        for (let j = 0; j < layer.outputs; j++) kernel[i * layer.outputs + j] = q[i * layer.outputs + j] * scale[j];
      }
      return { inputs: layer.inputs, outputs: layer.outputs, kernel: kernel,
               bias: float32FromBase64(layer.bias), activation: ACTIVATIONS[layer.activation] };
    });
    return { layers: layers, link: spec.link, latentDim: spec.latent_dim, imageShape: spec.image_shape };
  }

  // E[x|z] for one latent vector z (length d): a Float64Array of h*w pixel means, row-major.
  function decode(decoder, z) {
    if (z.length !== decoder.latentDim) throw new Error("z has length " + z.length + ", expected " + decoder.latentDim);
    let x = Float64Array.from(z);
    for (const layer of decoder.layers) {
      const y = Float64Array.from(layer.bias);
      for (let i = 0; i < layer.inputs; i++) {
        const xi = x[i];
        if (xi === 0) continue;
        const row = i * layer.outputs;
        for (let j = 0; j < layer.outputs; j++) y[j] += xi * layer.kernel[row + j];
      }
      for (let j = 0; j < layer.outputs; j++) y[j] = layer.activation(y[j]);
      x = y;
    }
    if (decoder.link === "sigmoid") for (let j = 0; j < x.length; j++) x[j] = 1 / (1 + Math.exp(-x[j]));
    return x;
  }

  // The fallback for decoders that cannot be translated (2-D latent only): images decoded by
  // TensorFlow on an n x n grid; z is snapped to the nearest grid point.
  function gridDecoder(grid, imageShape) {
    const pixels = bytesFromBase64(grid.pixels);
    const size = imageShape[0] * imageShape[1];
    const step = (grid.hi - grid.lo) / (grid.n - 1);
    return {
      latentDim: 2, imageShape: imageShape, step: step,
      snap: function (v) { return grid.lo + step * Math.round((Math.min(Math.max(v, grid.lo), grid.hi) - grid.lo) / step); },
      decode: function (z) {
        const idx = [0, 1].map(function (k) {
          return Math.min(grid.n - 1, Math.max(0, Math.round((z[k] - grid.lo) / step)));
        });
        const offset = (idx[1] * grid.n + idx[0]) * size;
        const out = new Float64Array(size);
        for (let p = 0; p < size; p++) out[p] = pixels[offset + p] / 255;
        return out;
      },
    };
  }

  function standardNormal() {
    let u = 0;
    while (u === 0) u = Math.random();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * Math.random());
  }

  const STYLE = [
    ".tfvae-explorer{font:13px/1.4 system-ui,sans-serif;border:1px solid #ccc;border-radius:6px;padding:10px;margin:8px 0;max-width:760px}",
    ".tfvae-explorer .tfvae-top{display:flex;gap:14px;align-items:flex-start;flex-wrap:wrap}",
    ".tfvae-explorer canvas.tfvae-image{width:168px;height:168px;image-rendering:pixelated;border:1px solid #888;background:#000}",
    ".tfvae-explorer canvas.tfvae-pad{width:168px;height:168px;border:1px solid #888;cursor:crosshair;touch-action:none}",
    ".tfvae-explorer .tfvae-controls{display:flex;flex-direction:column;gap:6px;width:220px}",
    ".tfvae-explorer .tfvae-sliders{display:grid;grid-template-columns:max-content 1fr 4em;gap:2px 8px;align-items:center;margin-top:8px}",
    ".tfvae-explorer .tfvae-readout{font-family:monospace;font-size:12px;margin-top:6px;overflow-wrap:anywhere}",
    ".tfvae-explorer .tfvae-note{color:#555;font-size:12px;margin-top:6px}",
    ".tfvae-explorer button,.tfvae-explorer select{font:inherit}",
  ].join("\n");

  function element(tag, attrs, parent) {
    const node = document.createElement(tag);
    for (const key in attrs) {
      if (key === "text") node.textContent = attrs[key];
      else node.setAttribute(key, attrs[key]);
    }
    if (parent) parent.appendChild(node);
    return node;
  }

  // root: the explorer's div, or its id. Its spec is the JSON script element beside it whose id
  // is the root's id followed by "-spec", looked up through the parent first, so an explorer
  // mounts even inside an output that is not (yet) part of the document.
  function mount(root) {
    if (typeof root === "string") root = document.getElementById(root);
    const specId = root.id + "-spec";
    const specNode = (root.parentNode && root.parentNode.querySelector("script[id='" + specId + "']"))
      || document.getElementById(specId);
    const spec = JSON.parse(specNode.textContent);
    if (!document.getElementById("tfvae-explorer-style")) element("style", { id: "tfvae-explorer-style", text: STYLE }, document.head);
    const d = spec.latent_dim;
    const h = spec.image_shape[0], w = spec.image_shape[1];
    let decodeZ, snap;
    if (spec.mode === "grid") {
      const grid = gridDecoder(spec.grid, spec.image_shape);
      decodeZ = grid.decode;
      snap = grid.snap;
    } else {
      const decoder = loadDecoder(spec.decoder);
      decodeZ = function (z) { return decode(decoder, z); };
      snap = function (v) { return v; };
    }
    const r = spec.range;
    const z = new Float64Array(d);
    const drives = [];
    for (let i = 0; i < spec.slider_count; i++) drives.push(i);

    root.textContent = "";
    const top = element("div", { class: "tfvae-top" }, root);
    const image = element("canvas", { class: "tfvae-image", width: w, height: h, "aria-label": "decoded image" }, top);
    const pad = spec.slider_count >= 2 ? element("canvas", { class: "tfvae-pad", width: 168, height: 168,
                                            "aria-label": "latent plane: click or drag" }, top) : null;
    const controls = element("div", { class: "tfvae-controls" }, top);
    const randomButton = element("button", { type: "button", class: "tfvae-random", text: spec.prior.button }, controls);
    const resetButton = element("button", { type: "button", class: "tfvae-reset", text: "reset (z = 0)" }, controls);
    let anchorSelect = null;
    if (spec.anchors.length) {
      anchorSelect = element("select", { class: "tfvae-anchors", "aria-label": "start from" }, controls);
      element("option", { value: "", text: "start from…" }, anchorSelect);
      spec.anchors.forEach(function (a, k) { element("option", { value: String(k), text: a.name }, anchorSelect); });
    }

    const readout = element("div", { class: "tfvae-readout" }, root);
    const table = element("div", { class: "tfvae-sliders" }, root);
    const sliders = [], labels = [];
    for (let i = 0; i < spec.slider_count; i++) {
      if (spec.slider_count < d) {
        const chooser = element("select", { class: "tfvae-coordinate", "aria-label": "coordinate of slider " + (i + 1) }, table);
        for (let k = 0; k < d; k++) element("option", { value: String(k), text: "z" + (k + 1) }, chooser);
        chooser.value = String(i);
        chooser.addEventListener("change", function () { drives[i] = Number(chooser.value); show(); });
      } else {
        element("span", { text: "z" + (i + 1) }, table);
      }
      const slider = element("input", { type: "range", class: "tfvae-slider", min: String(-r), max: String(r),
                                         step: spec.mode === "grid" ? String(spec.grid.step) : "any", value: "0",
                                         "aria-label": "latent coordinate slider " + (i + 1) }, table);
      slider.addEventListener("input", function () { z[drives[i]] = snap(Number(slider.value)); show(); });
      sliders.push(slider);
      labels.push(element("span", { class: "tfvae-value" }, table));
    }
    element("div", { class: "tfvae-note", text: spec.note }, root);

    const context = image.getContext("2d");
    const picture = context.createImageData(w, h);
    let lastPixels = null;

    function drawImage() {
      lastPixels = decodeZ(z);
      for (let p = 0; p < h * w; p++) {
        const v = Math.round(255 * Math.min(1, Math.max(0, lastPixels[p])));
        picture.data[4 * p] = picture.data[4 * p + 1] = picture.data[4 * p + 2] = v;
        picture.data[4 * p + 3] = 255;
      }
      context.putImageData(picture, 0, 0);
    }

    function padXY(a, b) { return [84 + 80 * a / r, 84 - 80 * b / r]; }

    function drawPad() {
      if (!pad) return;
      const g = pad.getContext("2d");
      const a = drives[0], b = drives[1];
      g.fillStyle = "#fff"; g.fillRect(0, 0, 168, 168);
      g.strokeStyle = "#ddd"; g.beginPath(); g.moveTo(84, 0); g.lineTo(84, 168); g.moveTo(0, 84); g.lineTo(168, 84); g.stroke();
      g.fillStyle = "#1f77b4";
      spec.anchors.forEach(function (anchor) {
        const p = padXY(anchor.z[a], anchor.z[b]);
        g.fillRect(p[0] - 1.5, p[1] - 1.5, 3, 3);
      });
      const p = padXY(z[a], z[b]);
      g.strokeStyle = "#d62728"; g.lineWidth = 2; g.beginPath(); g.arc(p[0], p[1], 5, 0, 2 * Math.PI); g.stroke(); g.lineWidth = 1;
      g.fillStyle = "#555"; g.fillText("z" + (a + 1) + " →", 128, 80); g.fillText("z" + (b + 1) + " ↑", 88, 10);
    }

    function show() {
      for (let i = 0; i < sliders.length; i++) {
        sliders[i].value = String(z[drives[i]]);
        labels[i].textContent = z[drives[i]].toFixed(2);
      }
      readout.textContent = d > spec.slider_count ? "z = (" + Array.from(z, function (v) { return v.toFixed(1); }).join(", ") + ")" : "";
      drawImage();
      drawPad();
    }

    function setZ(values) {
      for (let k = 0; k < d; k++) z[k] = snap(Math.min(r, Math.max(-r, values[k])));
      show();
    }

    randomButton.addEventListener("click", function () {
      if (spec.prior.kind === "draws") setZ(spec.prior.draws[Math.floor(Math.random() * spec.prior.draws.length)]);
      else setZ(Array.from({ length: d }, standardNormal));
      if (anchorSelect) anchorSelect.value = "";
    });
    resetButton.addEventListener("click", function () {
      setZ(new Array(d).fill(0));
      if (anchorSelect) anchorSelect.value = "";
    });
    if (anchorSelect) {
      anchorSelect.addEventListener("change", function () {
        if (anchorSelect.value !== "") setZ(spec.anchors[Number(anchorSelect.value)].z);
      });
    }
    if (pad) {
      let dragging = false;
      const move = function (event) {
        const box = pad.getBoundingClientRect();
        const x = (event.clientX - box.left) * 168 / box.width, y = (event.clientY - box.top) * 168 / box.height;
        z[drives[0]] = snap(Math.min(r, Math.max(-r, (x - 84) * r / 80)));
        z[drives[1]] = snap(Math.min(r, Math.max(-r, (84 - y) * r / 80)));
        show();
      };
      pad.addEventListener("pointerdown", function (event) { dragging = true; pad.setPointerCapture(event.pointerId); move(event); });
      pad.addEventListener("pointermove", function (event) { if (dragging) move(event); });
      pad.addEventListener("pointerup", function () { dragging = false; });
    }

    // For tests and the curious: the current z and the pixel means on the canvas.
    root.tfvaeExplorer = {
      getZ: function () { return Array.from(z); },
      setZ: setZ,
      pixels: function () { return Array.from(lastPixels); },
    };
    show();
    return root.tfvaeExplorer;
  }

  const api = { loadDecoder: loadDecoder, decode: decode, gridDecoder: gridDecoder, mount: mount };
  if (typeof module === "object" && module.exports) module.exports = api;
  else global.tfvaeExplorer = global.tfvaeExplorer || api;
})(typeof window !== "undefined" ? window : globalThis);
