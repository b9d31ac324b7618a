// Does spec.version skip a minor version of what the cluster actually runs? Pure.
//
// etcd upgrades one minor version at a time: 3.6 will not start on data a 3.4 member wrote (and
// refuses to join a cluster whose version is still 3.4). The CRD refuses such a spec.version at
// apply time when status.clusterVersion is known, but it can only compare with what the status
// said then; this check runs on every pass against what runs now, so a skip is never started
// whatever the order of edits: `3.4.23 → 3.5.21` then at once `3.5.21 → 3.6.0`, while the cluster
// still runs 3.4, stops here with no member touched.
//
// What runs is the lowest of: every live peer's spec version (what its pod runs or will run on
// its volume) and the version its member last reported, and the cluster version etcd last reported
// (status.clusterVersion, which still counts a member whose peer is briefly gone). A new cluster's
// members first agree on 3.0.0, etcd's placeholder until it has decided, for a few seconds after
// they start: that says nothing about what runs and is ignored (no cluster here runs 3.0).
import semver from "semver";
import type { ClusterObservation } from "./plan.ts";

/** What etcd reports as the cluster version before it has decided one. */
const undecidedClusterVersion = "3.0.0";

export interface VersionSkip {
  /** The lowest version found running, as written where it was found. */
  readonly running: string;
  readonly message: string;
}

export function versionSkip(seen: ClusterObservation): VersionSkip | undefined {
  const target = semver.parse(seen.version);
  if (!target) return undefined;
  const running = [
    ...seen.peers.filter((peer) => !peer.terminating)
      .flatMap((peer) => [peer.version, peer.serverVersion]),
    seen.clusterVersion === undecidedClusterVersion ? undefined : seen.clusterVersion,
  ].flatMap((version) => {
    const parsed = version === undefined ? null : semver.coerce(version);
    return parsed ? [{ version: version!, parsed }] : [];
  });
  if (running.length === 0) return undefined;
  const lowest = running.reduce((low, next) =>
    next.parsed.major < low.parsed.major ||
      (next.parsed.major === low.parsed.major && next.parsed.minor < low.parsed.minor)
      ? next
      : low
  );
  const { major, minor } = lowest.parsed;
  if (target.major === major && target.minor <= minor + 1) return undefined;
  if (target.major < major || (target.major === major && target.minor < minor)) return undefined;
  const next = `${major}.${minor + 1}`;
  return {
    running: lowest.version,
    message: `spec.version ${seen.version} skips a minor version: the cluster still runs etcd ` +
      `${major}.${minor} (${lowest.version}), and etcd upgrades one minor version at a time. ` +
      `No member was touched: set spec.version to a ${next}.x release, let every member run it, ` +
      `then upgrade to ${seen.version}`,
  };
}
