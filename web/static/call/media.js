// Our own media: camera and microphone (with a fallback to whatever exists, or to nothing: a
// receive-only member), the device pickers' lists, screen sharing, and the microphone level.

const VIDEO = { width: { ideal: 640 }, height: { ideal: 480 }, frameRate: { ideal: 30 } };
const AUDIO = { echoCancellation: true, noiseSuppression: true, autoGainControl: true };

/** Why we have no (or only some) devices, for the pre-join message. */
export function mediaProblem(error) {
  switch (error?.name) {
    case "NotAllowedError":
    case "SecurityError":
      return "denied";
    case "NotFoundError":
    case "OverconstrainedError":
      return "missing";
    case "NotReadableError":
    case "AbortError":
      return "busy";
    default:
      return error ? "other" : null;
  }
}

export const PROBLEM_TEXT = {
  denied:
    "Camera and microphone access is blocked. You can still join to watch and listen; to be " +
    "seen and heard, allow access in your browser's site settings and reload.",
  missing: "No camera or microphone was found. You can still join to watch and listen.",
  busy: "Your camera or microphone is in use by another app. Close it and reload, or join to watch and listen.",
  other: "Your camera and microphone could not be started. You can still join to watch and listen.",
  partialAudio: "No microphone was found: others will not hear you.",
  partialVideo: "No camera was found: others will not see you.",
};

export class LocalMedia {
  constructor() {
    this.stream = null;
    this.screen = null;
    this.audioEnabled = true;
    this.videoEnabled = true;
    this.onEnded = null;
    this.onScreenEnded = null;
  }

  get audioTrack() {
    return this.stream?.getAudioTracks()[0] ?? null;
  }

  get cameraTrack() {
    return this.stream?.getVideoTracks()[0] ?? null;
  }

  get screenTrack() {
    return this.screen?.getVideoTracks()[0] ?? null;
  }

  /** What goes out on each m-line right now. */
  outgoing(kind) {
    if (kind === "audio") return this.audioTrack;
    return this.screenTrack ?? this.cameraTrack;
  }

  /**
   * Open camera and microphone, falling back to either alone. Returns `{problem}` where problem
   * is null, "denied", "missing", "busy" or "other"; `partial` says which kind is missing.
   */
  async open({ audioId = null, videoId = null } = {}) {
    if (!navigator.mediaDevices?.getUserMedia) return { problem: "missing", partial: null };
    const audio = audioId ? { ...AUDIO, deviceId: { exact: audioId } } : AUDIO;
    const video = videoId ? { ...VIDEO, deviceId: { exact: videoId } } : { ...VIDEO, facingMode: "user" };
    this.release();
    let firstError = null;
    for (const constraints of [{ audio, video }, { audio }, { video }]) {
      try {
        this.stream = await navigator.mediaDevices.getUserMedia(constraints);
        break;
      } catch (err) {
        firstError ??= err;
        // Denied stays denied: asking again for less would only show another prompt.
        if (mediaProblem(err) === "denied") break;
      }
    }
    if (!this.stream) return { problem: mediaProblem(firstError), partial: null };
    for (const track of this.stream.getTracks()) {
      track.enabled = track.kind === "audio" ? this.audioEnabled : this.videoEnabled;
      track.onended = () => this.onEnded?.(track);
    }
    const partial = !this.audioTrack ? "partialAudio" : !this.cameraTrack ? "partialVideo" : null;
    return { problem: null, partial };
  }

  /** Cameras and microphones, with labels once permission was granted. */
  async devices() {
    if (!navigator.mediaDevices?.enumerateDevices) return { cameras: [], microphones: [] };
    const all = await navigator.mediaDevices.enumerateDevices();
    const usable = (d) => d.deviceId && d.deviceId !== "";
    return {
      cameras: all.filter((d) => d.kind === "videoinput" && usable(d)),
      microphones: all.filter((d) => d.kind === "audioinput" && usable(d)),
    };
  }

  setAudioEnabled(on) {
    this.audioEnabled = on;
    if (this.audioTrack) this.audioTrack.enabled = on;
  }

  setVideoEnabled(on) {
    this.videoEnabled = on;
    if (this.cameraTrack) this.cameraTrack.enabled = on;
  }

  static canShareScreen() {
    // Desktop only: phones either lack getDisplayMedia or cannot use it sensibly.
    return (
      typeof navigator.mediaDevices?.getDisplayMedia === "function" &&
      !matchMedia("(pointer: coarse)").matches
    );
  }

  async startScreen() {
    this.screen = await navigator.mediaDevices.getDisplayMedia({ video: true, audio: false });
    const track = this.screenTrack;
    track.contentHint = "detail";
    track.onended = () => {
      this.screen = null;
      this.onScreenEnded?.();
    };
    return track;
  }

  stopScreen() {
    for (const track of this.screen?.getTracks() ?? []) track.stop();
    this.screen = null;
  }

  release() {
    for (const track of this.stream?.getTracks() ?? []) {
      track.onended = null;
      track.stop();
    }
    this.stream = null;
  }

  stop() {
    this.stopScreen();
    this.release();
  }
}

/** Drives a <meter> from a microphone track: RMS of the waveform, about 20 times a second. */
export class LevelMeter {
  constructor(meter) {
    this.meter = meter;
    this.context = null;
    this.source = null;
    this.timer = null;
  }

  attach(track) {
    this.detach();
    if (!track || typeof AudioContext === "undefined") return;
    this.context ??= new AudioContext();
    const analyser = this.context.createAnalyser();
    analyser.fftSize = 512;
    this.source = this.context.createMediaStreamSource(new MediaStream([track]));
    this.source.connect(analyser);
    const samples = new Float32Array(analyser.fftSize);
    this.timer = setInterval(() => {
      analyser.getFloatTimeDomainData(samples);
      let sum = 0;
      for (const s of samples) sum += s * s;
      // Speech sits around 0.02–0.2 RMS; stretch it over the meter, and let peaks fall back
      // slowly so that the eye can follow them.
      const level = Math.min(1, Math.sqrt(sum / samples.length) * 4);
      this.meter.value = Math.max(level, this.meter.value * 0.85);
    }, 50);
  }

  /** Autoplay policy: an AudioContext made before any tap starts suspended. */
  resume() {
    if (this.context?.state === "suspended") this.context.resume().catch(() => {});
  }

  detach() {
    clearInterval(this.timer);
    this.source?.disconnect();
    this.source = null;
    this.meter.value = 0;
  }

  close() {
    this.detach();
    this.context?.close().catch(() => {});
    this.context = null;
  }
}
