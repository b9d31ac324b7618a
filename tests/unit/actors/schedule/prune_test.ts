// Pruned backups' objects as data: which are deleted, which are kept and why, which must wait.
import assert from "node:assert/strict";
import { planSchedule, type ScheduledBackupView } from "../../../../actors/schedule/plan.ts";
import { type ObjectDecision, planObjectPruning } from "../../../../actors/schedule/prune.ts";

const minio = "?endpoint=http://minio:9000&region=us-east-1";
const url = (key: string) => `s3://backups/${key}${minio}`;

function backup(
  name: string,
  phase: ScheduledBackupView["phase"],
  minute: number,
  /** `null`: no object URL yet (or ever). */
  objectURL: string | null = url(`${name}.db`),
  terminating = false,
): ScheduledBackupView {
  const creationTimestamp = `2024-01-02T03:${String(minute).padStart(2, "0")}:00Z`;
  return { name, phase, creationTimestamp, terminating, objectURL: objectURL ?? undefined };
}

type Row = readonly [
  string,
  {
    readonly backups: readonly ScheduledBackupView[];
    readonly otherBackups?: readonly ScheduledBackupView[];
    readonly pruned: readonly string[];
    readonly creating?: boolean;
  },
  Readonly<Record<string, string>>,
];

/** A decision as one short string: `delete`, `keep: why`, `defer: why`. */
function show(decision: ObjectDecision): string {
  if (decision.kind === "delete") return "delete";
  return `${decision.kind}: ${decision.why}`;
}

const rows: readonly Row[] = [
  ["an old Completed backup's own object is deleted", {
    backups: [backup("c1", "Completed", 1), backup("c2", "Completed", 2)],
    pruned: ["c1"],
  }, { c1: "delete" }],
  ["a Failed backup's object is never deleted (its upload wrote nothing anyone vouched for)", {
    backups: [backup("f1", "Failed", 1), backup("c2", "Completed", 2)],
    pruned: ["f1"],
  }, {}],
  ["a Completed backup without an object URL has nothing to delete", {
    backups: [backup("c1", "Completed", 1, null), backup("c2", "Completed", 2)],
    pruned: ["c1"],
  }, {}],
  ["the newest Completed backup's object stays even when a limit of 0 prunes it", {
    backups: [backup("c1", "Completed", 1), backup("c2", "Completed", 2)],
    pruned: ["c1", "c2"],
  }, {
    c1: "delete",
    c2: "keep: it is the newest completed backup of the schedule, whose object is never deleted",
  }],
  ["a key a kept backup also wrote (latest.db) is kept", {
    backups: [
      backup("c1", "Completed", 1, url("latest.db")),
      backup("c2", "Completed", 2, url("latest.db")),
    ],
    pruned: ["c1"],
  }, { c1: "keep: EtcdBackup c2 still names it" }],
  ["a key the running backup is writing is kept", {
    backups: [
      backup("c1", "Completed", 1, url("latest.db")),
      backup("c2", "Completed", 2),
      backup("r3", "BackingUp", 3, url("latest.db")),
    ],
    pruned: ["c1"],
  }, { c1: "keep: EtcdBackup r3 still names it" }],
  ["a kept Failed backup's reference counts too", {
    backups: [
      backup("c1", "Completed", 1, url("latest.db")),
      backup("c2", "Completed", 2),
      backup("f3", "Failed", 3, url("latest.db")),
    ],
    pruned: ["c1"],
  }, { c1: "keep: EtcdBackup f3 still names it" }],
  ["another EtcdBackup in the namespace naming the key keeps it, whatever endpoint it used", {
    backups: [backup("c1", "Completed", 1), backup("c2", "Completed", 2)],
    otherBackups: [
      backup("one-off", "Completed", 0, "s3://backups/c1.db?endpoint=http://10.0.0.9:9000"),
    ],
    pruned: ["c1"],
  }, { c1: "keep: EtcdBackup one-off still names it" }],
  ["two pruned backups sharing a key no kept backup names: both delete it (idempotent)", {
    backups: [
      backup("c1", "Completed", 1, url("shared.db")),
      backup("c2", "Completed", 2, url("shared.db")),
      backup("c3", "Completed", 3),
    ],
    pruned: ["c1", "c2"],
  }, { c1: "delete", c2: "delete" }],
  ["a backup being deleted already does not hold on to its object", {
    backups: [
      backup("c0", "Completed", 0, url("c1.db"), true),
      backup("c1", "Completed", 1),
      backup("c2", "Completed", 2),
    ],
    pruned: ["c1"],
  }, { c1: "delete" }],
  ["the same bucket and key on another store is another object", {
    backups: [backup("c1", "Completed", 1), backup("c2", "Completed", 2)],
    otherBackups: [backup("gcs", "Completed", 0, "gs://backups/c1.db")],
    pruned: ["c1"],
  }, { c1: "delete" }],
  ["while a backup in the namespace has no URL yet, the pruning waits", {
    backups: [backup("c1", "Completed", 1), backup("c2", "Completed", 2)],
    otherBackups: [backup("fresh", undefined, 5, null)],
    pruned: ["c1"],
  }, { c1: "defer: EtcdBackup fresh has no object URL yet and may write to the same key" }],
  ["a backup created in the same pass makes the pruning wait", {
    backups: [backup("c1", "Completed", 1), backup("c2", "Completed", 2)],
    pruned: ["c1"],
    creating: true,
  }, { c1: "defer: the backup created now has no object URL yet and may write to the same key" }],
];

for (const [name, input, expected] of rows) {
  Deno.test(`pruned objects: ${name}`, () => {
    const decisions = planObjectPruning({
      backups: input.backups,
      otherBackups: input.otherBackups ?? [],
      pruned: input.pruned,
      creating: input.creating ?? false,
    });
    assert.deepEqual(
      Object.fromEntries(
        [...decisions].map(([backupName, decision]) => [backupName, show(decision)]),
      ),
      expected,
    );
  });
}

const schedule = {
  scheduleName: "nightly",
  schedule: "0 0 1 1 *",
  suspend: false,
  successfulBackupsHistoryLimit: 1,
  failedBackupsHistoryLimit: 0,
  createdAt: new Date("2024-01-02T00:00:00Z"),
  lastTick: undefined,
  now: new Date("2024-01-02T04:00:00Z"),
};

Deno.test("schedule planning: by default (Keep) pruning deletes backups only, objects untouched", () => {
  const plan = planSchedule({
    ...schedule,
    backups: [backup("c1", "Completed", 1), backup("c2", "Completed", 2)],
  });
  assert.deepEqual(plan.steps, [{ kind: "deleteBackup", name: "c1", phase: "Completed" }]);
});

Deno.test("schedule planning: with Delete a pruned backup carries its object's fate; a deferred one is not deleted yet", () => {
  const backups = [
    backup("c1", "Completed", 1),
    backup("c2", "Completed", 2, url("latest.db")),
    backup("c3", "Completed", 3, url("latest.db")),
    backup("f4", "Failed", 4),
  ];
  const plan = planSchedule({ ...schedule, backups, prunedBackupObjects: "Delete" });
  assert.deepEqual(plan.steps, [
    {
      kind: "deleteBackup",
      name: "c1",
      phase: "Completed",
      object: { kind: "delete", objectURL: url("c1.db") },
    },
    {
      kind: "deleteBackup",
      name: "c2",
      phase: "Completed",
      object: { kind: "keep", objectURL: url("latest.db"), why: "EtcdBackup c3 still names it" },
    },
    { kind: "deleteBackup", name: "f4", phase: "Failed" },
  ]);
  const waiting = planSchedule({
    ...schedule,
    backups,
    prunedBackupObjects: "Delete",
    otherBackups: [backup("fresh", undefined, 5, null)],
  });
  assert.deepEqual(waiting.steps, [{ kind: "deleteBackup", name: "f4", phase: "Failed" }]);
});

Deno.test("schedule planning: with Delete, a tick due in the same pass defers the objects to the next pass", () => {
  const plan = planSchedule({
    ...schedule,
    schedule: "0 * * * *",
    lastTick: new Date("2024-01-02T03:00:00Z"),
    backups: [backup("c1", "Completed", 1), backup("c2", "Completed", 2)],
    prunedBackupObjects: "Delete",
  });
  assert.deepEqual(plan.steps.map((step) => step.kind), ["createBackup"]);
});
