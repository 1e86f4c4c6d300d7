// The page written by 'ganzoo export RUN --web DIR': runs generator.onnx with onnxruntime-web
// (WebGPU when the browser has it, WASM otherwise) and draws a grid of images.
//
// Latents come from a port of ganzoo.latents ('ganzoo-normal/1'), so a seed here gives the
// images 'ganzoo generate --seed' gives. The slider interpolates between the latents of two
// seeds by slerp (spherical interpolation of each image's latent vector), which keeps the
// vectors at the norm a Gaussian latent has, where plain lerp would shrink them mid-way.
//
// Test hook: window.ganzoo = {ready, render(settings), pixels(), backend, metadata, timings}.
"use strict";

(() => {
  const MODEL = "generator.onnx";
  const METADATA = "model.json";
  const SAMPLER = "ganzoo-normal/1";
  const MAX_SEED = 4294967295;
  const TWO32 = 4294967296;
  const $ = (id) => document.getElementById(id);

  // -- ganzoo-normal/1: see ganzoo/latents.py for the specification --------------------------

  function mix(x) {
    x ^= x >>> 17;
    x = Math.imul(x, 0xed5ad4bb);
    x ^= x >>> 11;
    x = Math.imul(x, 0xac4c1b51);
    x ^= x >>> 15;
    x = Math.imul(x, 0x31848bab);
    x ^= x >>> 14;
    return x >>> 0;
  }

  function sampleLatents(n, nz, seed) {
    const count = n * nz;
    const out = new Float32Array(count);
    const key = mix((seed ^ 0x9e3779b9) >>> 0);
    for (let p = 0; 2 * p < count; p++) {
      const b0 = mix((mix((2 * p) >>> 0) ^ key) >>> 0);
      const b1 = mix((mix((2 * p + 1) >>> 0) ^ key) >>> 0);
      const r = Math.sqrt(-2 * Math.log((b0 + 0.5) / TWO32));
      const angle = 2 * Math.PI * (b1 / TWO32);
      out[2 * p] = r * Math.cos(angle);  // a Float32Array store rounds to float32
      if (2 * p + 1 < count) out[2 * p + 1] = r * Math.sin(angle);
    }
    return out;
  }

  // Spherical interpolation of each row of a and b ([n, nz]); t = 0 gives a exactly.
  function slerp(a, b, nz, t) {
    if (t === 0) return a;
    const out = new Float32Array(a.length);
    for (let row = 0; row < a.length; row += nz) {
      let dot = 0, na = 0, nb = 0;
      for (let i = row; i < row + nz; i++) {
        dot += a[i] * b[i];
        na += a[i] * a[i];
        nb += b[i] * b[i];
      }
      const cos = Math.min(1, Math.max(-1, dot / Math.sqrt(na * nb)));
      const omega = Math.acos(cos);
      const s = Math.sin(omega);
      const [wa, wb] = s < 1e-6 ? [1 - t, t]
        : [Math.sin((1 - t) * omega) / s, Math.sin(t * omega) / s];
      for (let i = row; i < row + nz; i++) out[i] = wa * a[i] + wb * b[i];
    }
    return out;
  }

  // Labels as ganzoo.latents.class_labels makes them: classes in turn, or all one class.
  function classLabels(n, numClasses, classIndex) {
    const labels = new BigInt64Array(n);
    for (let i = 0; i < n; i++) labels[i] = BigInt(classIndex === null ? i % numClasses : classIndex);
    return labels;
  }

  // Model output -> uint8 HWC pixels, rounding as ganzoo.images.to_uint8 does (in float32).
  function toPixels(meta, data, n) {
    const c = meta.channels, r = meta.resolution, size = r * r;
    const pixels = new Uint8Array(n * size * c);
    if (meta.output_layout === "NHWC") {
      pixels.set(data.subarray(0, pixels.length));
      return pixels;
    }
    const f = Math.fround;
    for (let img = 0; img < n; img++) {
      for (let ch = 0; ch < c; ch++) {
        const src = (img * c + ch) * size;
        for (let i = 0; i < size; i++) {
          const v = Math.floor(f(f(f(data[src + i] + 1) * 127.5) + 0.5));
          pixels[(img * size + i) * c + ch] = v < 0 ? 0 : v > 255 ? 255 : v;
        }
      }
    }
    return pixels;
  }

  // -- the page ------------------------------------------------------------------------------

  const params = new URLSearchParams(location.search);
  // timings: milliseconds to start onnxruntime-web with the model (loadMs) and of each
  // session.run, the first one included (runs).
  const state = { meta: null, session: null, backend: null, n: 16, pixels: null,
                  queue: Promise.resolve(), timings: { loadMs: null, runs: [] } };

  function showError(message) {
    const status = $("status");
    status.textContent = "Error: " + message;
    status.className = "error";
    document.body.dataset.state = "error";
    document.body.dataset.error = message;
  }

  function showStatus(message) {
    $("status").textContent = message;
    $("status").className = "";
  }

  function readSeed(input, name) {
    const value = Number(input.value);
    if (!Number.isInteger(value) || value < 0 || value > MAX_SEED) {
      throw new Error(`the ${name} must be an integer from 0 to ${MAX_SEED}, got "${input.value}"`);
    }
    return value;
  }

  async function fetchOrExplain(name, what) {
    let response;
    try {
      response = await fetch(name, { cache: "no-cache" });
    } catch (err) {
      throw new Error(`cannot fetch ${name} (${err.message}). Serve this folder over HTTP, ` +
                      "e.g. 'python -m http.server' in it, rather than opening the file");
    }
    if (!response.ok) {
      throw new Error(`${what} ${name} is missing (HTTP ${response.status}): it must sit ` +
                      "next to index.html. Re-run 'ganzoo export RUN --web DIR' to write it");
    }
    return response;
  }

  // WebGPU when the browser has it, else WASM; ?backend=wasm asks for WASM. An int8 model
  // goes to WASM unless ?backend=webgpu: onnxruntime-web's int8 convolutions (QLinearConv,
  // which its optimizer makes of the QDQ graph) are CPU kernels; WebGPU has none, so the
  // float32 export is the one for a GPU.
  async function createSession(bytes, meta) {
    const forced = params.get("backend");
    const notes = [];
    const int8 = meta.precision === "int8";
    if (forced !== "wasm" && navigator.gpu && (!int8 || forced === "webgpu")) {
      try {
        const adapter = await navigator.gpu.requestAdapter();
        if (adapter) {
          const session = await ort.InferenceSession.create(bytes,
            { executionProviders: ["webgpu"] });
          return [session, "WebGPU"];
        }
        notes.push("the browser has WebGPU but no GPU adapter");
      } catch (err) {
        notes.push("WebGPU failed: " + err.message);
      }
    } else if (forced === "wasm") {
      notes.push("asked for by ?backend=wasm");
    } else {
      notes.push(navigator.gpu ? "int8 model: its int8 kernels run on the CPU" :
                 "no WebGPU in this browser");
    }
    const session = await ort.InferenceSession.create(bytes, { executionProviders: ["wasm"] });
    return [session, `WASM (CPU; ${notes.join("; ")})`];
  }

  function describe(meta) {
    const classes = meta.num_classes ? `, ${meta.num_classes} classes` : "";
    return `${meta.arch} (${meta.recipe}, step ${meta.step}): ${meta.resolution}×` +
           `${meta.resolution} × ${meta.channels} channels, nz ${meta.nz}${classes}, ` +
           `${meta.precision}, ganzoo ${meta.ganzoo_version}`;
  }

  function setUpControls(meta) {
    if (meta.num_classes) {
      const select = $("class");
      select.add(new Option("all, in turn", ""));
      for (let k = 0; k < meta.num_classes; k++) select.add(new Option(String(k), String(k)));
      $("class-label").hidden = false;
      select.addEventListener("change", () => render().catch(() => {}));
    }
    $("new-samples").addEventListener("click", () => {
      $("seed").value = String(Math.floor(Math.random() * MAX_SEED));
      $("mix").value = "0";
      render().catch(() => {});
    });
    for (const id of ["seed", "seed-b"]) $(id).addEventListener("change", () => render().catch(() => {}));
    $("mix").addEventListener("input", () => render().catch(() => {}));
    $("new-samples").disabled = false;
  }

  function settings() {
    const classValue = state.meta.num_classes ? $("class").value : "";
    return {
      seed: readSeed($("seed"), "seed"),
      seedB: readSeed($("seed-b"), "interpolation seed"),
      mix: Number($("mix").value) / 1000,
      classIndex: classValue === "" ? null : Number(classValue),
    };
  }

  function draw(pixels, n) {
    const { resolution: r, channels: c } = state.meta;
    const grid = $("grid");
    grid.style.gridTemplateColumns = `repeat(${Math.ceil(Math.sqrt(n))}, auto)`;
    while (grid.children.length > n) grid.lastChild.remove();
    while (grid.children.length < n) {
      const canvas = document.createElement("canvas");
      canvas.width = canvas.height = r;
      grid.appendChild(canvas);
    }
    for (let img = 0; img < n; img++) {
      const image = new ImageData(r, r);
      for (let i = 0; i < r * r; i++) {
        const src = (img * r * r + i) * c;
        image.data[4 * i] = pixels[src];
        image.data[4 * i + 1] = pixels[src + (c === 3 ? 1 : 0)];
        image.data[4 * i + 2] = pixels[src + (c === 3 ? 2 : 0)];
        image.data[4 * i + 3] = 255;
      }
      grid.children[img].getContext("2d").putImageData(image, 0, 0);
    }
  }

  async function generate(s) {
    const { meta, session, n } = state;
    const zA = sampleLatents(n, meta.nz, s.seed);
    const z = s.mix > 0 ? slerp(zA, sampleLatents(n, meta.nz, s.seedB), meta.nz, s.mix) : zA;
    const feeds = { z: new ort.Tensor("float32", z, [n, meta.nz]) };
    if (meta.num_classes) {
      feeds.labels = new ort.Tensor("int64", classLabels(n, meta.num_classes, s.classIndex), [n]);
    }
    const started = performance.now();
    const output = (await session.run(feeds)).images;
    const data = await output.getData();
    const ms = performance.now() - started;
    state.timings.runs.push(ms);
    state.pixels = toPixels(meta, data, n);
    draw(state.pixels, n);
    $("mix-value").textContent = s.mix.toFixed(2);
    const cls = s.classIndex === null ? "" : `, class ${s.classIndex}`;
    const blend = s.mix > 0 ? ` → seed ${s.seedB} at ${s.mix.toFixed(2)}` : "";
    showStatus(`${n} images, seed ${s.seed}${blend}${cls} (${ms.toFixed(0)} ms)`);
    document.body.dataset.state = "ready";
  }

  // Renders run one after another; a render asked for while one runs uses the latest settings.
  function render(overrides) {
    if (overrides) {
      if ("seed" in overrides) $("seed").value = String(overrides.seed);
      if ("seedB" in overrides) $("seed-b").value = String(overrides.seedB);
      if ("mix" in overrides) $("mix").value = String(Math.round(overrides.mix * 1000));
      if ("classIndex" in overrides && state.meta.num_classes) {
        $("class").value = overrides.classIndex === null ? "" : String(overrides.classIndex);
      }
    }
    const run = state.queue.then(async () => {
      let s;
      try {
        s = settings();
      } catch (err) {
        showError(err.message);
        throw err;
      }
      document.body.dataset.state = "busy";
      try {
        await generate(s);
      } catch (err) {
        showError("generating failed: " + (err.message || err));
        throw err;
      }
    });
    state.queue = run.catch(() => {});
    return run;
  }

  async function start() {
    if (typeof ort === "undefined") {
      throw new Error("onnxruntime-web (ort/ort.webgpu.min.js) did not load; re-run " +
                      "'ganzoo export RUN --web DIR' to copy it next to index.html");
    }
    const meta = await (await fetchOrExplain(METADATA, "the model description")).json();
    if (meta.latent_sampler !== SAMPLER) {
      throw new Error(`${METADATA} asks for latent sampler ${meta.latent_sampler}, this page ` +
                      `knows ${SAMPLER}; re-export with this ganzoo`);
    }
    state.meta = meta;
    $("about").textContent = describe(meta);
    const requested = Number(params.get("n") || 16);
    state.n = Number.isInteger(requested) && requested >= 1 && requested <= 256 ? requested : 16;
    if (params.has("seed")) $("seed").value = params.get("seed");
    const bytes = new Uint8Array(await (await fetchOrExplain(MODEL, "the model")).arrayBuffer());
    ort.env.wasm.wasmPaths = new URL("ort/", document.baseURI).href;
    ort.env.wasm.numThreads = self.crossOriginIsolated
      ? Math.min(4, navigator.hardwareConcurrency || 1) : 1;
    showStatus("Starting onnxruntime-web…");
    const loading = performance.now();
    [state.session, state.backend] = await createSession(bytes, meta);
    state.timings.loadMs = performance.now() - loading;
    $("backend").textContent = `Running on ${state.backend}; started in ` +
      `${state.timings.loadMs.toFixed(0)} ms`;
    document.body.dataset.backend = state.backend.startsWith("WebGPU") ? "webgpu" : "wasm";
    setUpControls(meta);
    await render();
    return { backend: state.backend, metadata: meta, n: state.n };
  }

  const ready = start().catch((err) => {
    if (document.body.dataset.state !== "error") showError(err.message || String(err));
    throw err;
  });
  ready.catch(() => {});

  window.ganzoo = {
    ready,
    render,
    sampleLatents,
    get backend() { return state.backend; },
    get timings() { return { loadMs: state.timings.loadMs, runs: [...state.timings.runs] }; },
    get metadata() { return state.meta; },
    // The last grid as uint8 [n, resolution, resolution, channels], row-major.
    pixels() {
      const m = state.meta;
      return { n: state.n, height: m.resolution, width: m.resolution, channels: m.channels,
               data: Array.from(state.pixels) };
    },
  };
})();
