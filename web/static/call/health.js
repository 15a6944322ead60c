// What `getStats()` says about one peer connection: is media still arriving (liveness, for the
// rebuild-on-network-change rule) and how good is the path (RTT and packet loss, for the user).
// Pure functions over plain numbers, plus one reader of an RTCStatsReport.

/** Thresholds for the quality label; RTT in seconds, loss as a fraction of packets. */
export const QUALITY = {
  fair: { rtt: 0.15, loss: 0.02 },
  poor: { rtt: 0.4, loss: 0.08 },
};

/** Read the few numbers we use from an RTCStatsReport. */
export function readStats(report) {
  let bytesReceived = 0;
  let packetsReceived = 0;
  let packetsLost = 0;
  let framesDecoded = 0;
  let rtt = null;
  let selectedPair = null;
  const pairs = new Map();
  report.forEach((stat) => {
    switch (stat.type) {
      case "inbound-rtp":
        packetsReceived += stat.packetsReceived ?? 0;
        packetsLost += Math.max(0, stat.packetsLost ?? 0);
        if (stat.kind === "video") framesDecoded += stat.framesDecoded ?? 0;
        break;
      case "transport":
        // Everything arriving over DTLS/SRTP, RTCP included: it keeps growing even when the
        // other side sends no media of its own.
        bytesReceived += stat.bytesReceived ?? 0;
        if (stat.selectedCandidatePairId) selectedPair = stat.selectedCandidatePairId;
        break;
      case "candidate-pair":
        pairs.set(stat.id, stat);
        break;
      default:
    }
  });
  const pair =
    (selectedPair && pairs.get(selectedPair)) ||
    [...pairs.values()].find((p) => p.nominated && p.state === "succeeded");
  if (pair && typeof pair.currentRoundTripTime === "number") rtt = pair.currentRoundTripTime;
  return { bytesReceived, packetsReceived, packetsLost, framesDecoded, rtt };
}

/** "good" | "fair" | "poor" from a round-trip time and a loss fraction (either may be null). */
export function classify(rtt, loss) {
  if (rtt === null && loss === null) return "unknown";
  const r = rtt ?? 0;
  const l = loss ?? 0;
  if (r > QUALITY.poor.rtt || l > QUALITY.poor.loss) return "poor";
  if (r > QUALITY.fair.rtt || l > QUALITY.fair.loss) return "fair";
  return "good";
}

/**
 * Follows one peer connection's stats over time. `update(sample, now)` returns
 * `{stalledFor, quality}`: how long (ms) no byte has arrived, and the smoothed quality label.
 */
export class HealthTracker {
  constructor(now) {
    this.lastBytes = -1;
    this.lastGrowth = now;
    this.lastPackets = null;
    this.loss = null;
  }

  update(sample, now) {
    if (sample.bytesReceived > this.lastBytes) {
      this.lastBytes = sample.bytesReceived;
      this.lastGrowth = now;
    }
    if (this.lastPackets) {
      const received = sample.packetsReceived - this.lastPackets.received;
      const lost = sample.packetsLost - this.lastPackets.lost;
      const total = received + Math.max(0, lost);
      if (total > 0) {
        const ratio = Math.max(0, lost) / total;
        // An exponential moving average: one bad second is not a bad connection.
        this.loss = this.loss === null ? ratio : this.loss * 0.7 + ratio * 0.3;
      }
    }
    this.lastPackets = { received: sample.packetsReceived, lost: sample.packetsLost };
    return { stalledFor: now - this.lastGrowth, quality: classify(sample.rtt, this.loss) };
  }
}
