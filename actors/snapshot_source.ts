// Which EtcdBackup vouches for a restore's snapshot: the one that last wrote that object. Pure.
//
// An object key may be written by many backups (a template such as `s3://b/latest.db`, or a
// schedule without {{ .UID }}), each recording its own sha256. The object holds the bytes of the
// last upload that completed, so the backup to check against is the Completed one with the latest
// completionTime. Two safeguards cover what the API cannot tell (an upload that finished but whose
// status was never written, two completions within the same second, someone else's upload):
// - every backup stores its own uid in the object's metadata when the upload starts, and the
//   restore's download refuses an object whose metadata names another backup, before reading a
//   byte (objectstore/cli.ts `--metadata`);
// - the sha256 the download must match is the chosen backup's.
// The choice is made once, when the restore starts, and kept in its status (`status.snapshot`):
// every member's restore pod checks the same bytes, even when some pods are created later (after a
// crash or an API error) and the object was overwritten in between. Without that, two members
// could start from different snapshots.
import { type ObjectMetadata, parseObjectURL } from "../objectstore/mod.ts";
import type { EtcdBackupObject } from "./types.ts";

/** The backup a restore checks its snapshot against, as kept in `status.snapshot`. */
export interface SnapshotSource {
  readonly backupName: string;
  readonly backupUID: string;
  readonly sha256: string;
}

/**
 * The Completed EtcdBackup in `namespace` that last wrote `objectURL`, or `undefined` when none
 * recorded it (an object uploaded by other means: only its size is checked). Objects are matched
 * on store, bucket and key: a backup may name the endpoint as the operator reaches it and the
 * restore as pods reach it. Ties on completionTime (whole seconds) go to the later start, then
 * the later creation, then the name, so the choice never depends on list order.
 */
export function snapshotSource(
  objectURL: string,
  namespace: string,
  backups: readonly EtcdBackupObject[],
): SnapshotSource | undefined {
  const wanted = parseObjectURL(objectURL);
  if (!wanted.ok) return undefined;
  const same = (url: string) => {
    const recorded = parseObjectURL(url);
    return recorded.ok && recorded.value.kind === wanted.value.kind &&
      recorded.value.bucket === wanted.value.bucket && recorded.value.key === wanted.value.key;
  };
  const writers = backups.filter((backup) =>
    backup.metadata.namespace === namespace && backup.status?.phase === "Completed" &&
    backup.status.sha256 !== undefined && backup.status.objectURL !== undefined &&
    same(backup.status.objectURL)
  ).sort(latestFirst);
  const writer = writers[0];
  if (!writer) return undefined;
  return {
    backupName: writer.metadata.name,
    backupUID: writer.metadata.uid,
    sha256: writer.status!.sha256!,
  };
}

function latestFirst(a: EtcdBackupObject, b: EtcdBackupObject): number {
  return timeOf(b.status?.completionTime) - timeOf(a.status?.completionTime) ||
    timeOf(b.status?.startTime) - timeOf(a.status?.startTime) ||
    timeOf(b.metadata.creationTimestamp) - timeOf(a.metadata.creationTimestamp) ||
    b.metadata.name.localeCompare(a.metadata.name);
}

/** Milliseconds since the epoch; a missing or unreadable time sorts before every real one. */
function timeOf(time: string | undefined): number {
  const parsed = time === undefined ? NaN : Date.parse(time);
  return Number.isNaN(parsed) ? -Infinity : parsed;
}

/** The object metadata key naming the uid of the EtcdBackup that wrote the object. */
export const writerUidKey = "etcd-backup-uid";
/** The object metadata key naming `<namespace>/<name>` of that EtcdBackup, for people. */
export const writerNameKey = "etcd-backup";

/**
 * Who wrote an object, stored in the object itself when the upload starts. A restore compares it
 * with the EtcdBackup whose sha256 it checks: a key written by several backups (a template such as
 * `latest.db`) then says which one's bytes it holds, and an overwrite between choosing the
 * backup and reading the bytes is caught before any byte is read. The sha256 itself cannot be
 * stored this way: it is known only once the streamed upload has ended.
 */
export function writerMetadata(backup: EtcdBackupObject): ObjectMetadata {
  const { uid, namespace, name } = backup.metadata;
  return { [writerUidKey]: uid, [writerNameKey]: `${namespace}/${name}` };
}
