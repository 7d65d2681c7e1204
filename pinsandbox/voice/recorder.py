"""A microphone button for JupyterLab (anywidget): records in the browser and hands the kernel a WAV file.

Browsers record compressed WebM/Opus by default, which the recogniser cannot read, so the button captures raw
samples with the Web Audio API and encodes 16-bit mono WAV itself. It stops on a second click, or on its own at
`max_seconds` (just under the recogniser's limit).
"""

from __future__ import annotations

import anywidget
import traitlets
from ipywidgets.widgets.trait_types import bytes_serialization

from pinsandbox.voice.audio import MAX_SECONDS

_ESM = r"""
function encodeWav(chunks, rate) {
  const n = chunks.reduce((a, c) => a + c.length, 0);
  const v = new DataView(new ArrayBuffer(44 + 2 * n));
  const tag = (o, s) => { for (let i = 0; i < s.length; i++) v.setUint8(o + i, s.charCodeAt(i)); };
  tag(0, "RIFF"); v.setUint32(4, 36 + 2 * n, true); tag(8, "WAVE"); tag(12, "fmt ");
  v.setUint32(16, 16, true); v.setUint16(20, 1, true); v.setUint16(22, 1, true); v.setUint32(24, rate, true);
  v.setUint32(28, rate * 2, true); v.setUint16(32, 2, true); v.setUint16(34, 16, true);
  tag(36, "data"); v.setUint32(40, 2 * n, true);
  let o = 44;
  for (const c of chunks) for (let i = 0; i < c.length; i++, o += 2) v.setInt16(o, Math.max(-1, Math.min(1, c[i])) * 32767, true);
  return v;
}

export default {
  render({ model, el }) {
    const button = document.createElement("button");
    button.className = "voice-record jupyter-button";
    button.textContent = "🎤 speak";
    const status = document.createElement("span");
    status.className = "voice-status";
    el.append(button, status);
    let ctx = null, stream = null, proc = null, chunks = [], timer = null;

    async function start() {
      try {
        // raw samples: the browser's echo cancelling, noise suppression and gain riding garble words for the recogniser
        stream = await navigator.mediaDevices.getUserMedia({
          audio: { echoCancellation: false, noiseSuppression: false, autoGainControl: false, channelCount: 1 },
        });
      } catch (e) {
        status.textContent = ` no microphone: ${e.message}. Upload a recording instead.`;
        return;
      }
      ctx = new AudioContext();
      proc = ctx.createScriptProcessor(4096, 1, 1);
      chunks = [];
      proc.onaudioprocess = (e) => chunks.push(new Float32Array(e.inputBuffer.getChannelData(0)));
      ctx.createMediaStreamSource(stream).connect(proc);
      proc.connect(ctx.destination);  // a ScriptProcessor only runs while connected to an output
      button.textContent = "■ stop";
      status.textContent = " listening…";
      timer = setTimeout(stop, model.get("max_seconds") * 1000);
    }

    function stop() {
      clearTimeout(timer);
      proc.disconnect();
      stream.getTracks().forEach((t) => t.stop());
      const wav = encodeWav(chunks, ctx.sampleRate);
      ctx.close();
      ctx = null;
      button.textContent = "🎤 speak";
      status.textContent = " recognising…";
      model.set("wav", wav);
      model.save_changes();
    }

    button.addEventListener("click", () => (ctx ? stop() : start()));
    model.on("change:wav", () => { if (model.get("wav").byteLength === 0) status.textContent = ""; });
  },
};
"""


class Recorder(anywidget.AnyWidget):
    """`wav` holds the last recording (WAV bytes) until the kernel has taken it and set it back to b""."""

    _esm = _ESM
    # the front end's bytes arrive as a memoryview, which a Bytes trait refuses without this (silently, in the log)
    wav = traitlets.Bytes(b"").tag(sync=True, **bytes_serialization)
    max_seconds = traitlets.Float(MAX_SECONDS - 0.5).tag(sync=True)
