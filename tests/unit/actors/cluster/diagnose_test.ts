// What a member's reason quotes from the log etcd left when it exited.
import assert from "node:assert/strict";
import { diagnoseMember, lastWords } from "../../../../actors/cluster/diagnose.ts";

/** The tail of a real termination message: etcd 3.5.21 on a database whose meta pages are zeroed. */
const panicOnDamagedDatabase = [
  '{"level":"warn","ts":"2026-12-03T08:58:33.6Z","caller":"fileutil/fileutil.go:53","msg":"check file permission","error":"directory \\"/var/lib/etcd\\" exist, but the permission is \\"drwxr-x---\\""}',
  '{"level":"panic","ts":"2026-12-03T08:58:33.6Z","caller":"backend/backend.go:201","msg":"failed to open database","path":"/var/lib/etcd/member/snap/db","error":"invalid database","stacktrace":"go.etcd.io/etcd/server/v3/mvcc/backend.newBackend"}',
  "panic: failed to open database",
  "",
  "goroutine 129 [running]:",
  "go.uber.org/zap/zapcore.(*CheckedEntry).Write(0x2e352a26e540, {0x2e352a3ba880, 0x2, 0x2})",
  "\tgo.uber.org/zap@v1.17.0/zapcore/entry.go:234 +0x31c",
  "created by go.etcd.io/etcd/server/v3/etcdserver.openBackend in goroutine 1",
  "\tgo.etcd.io/etcd/server/v3@v3.5.21/etcdserver/backend.go:75 +0x18e",
].join("\n");

Deno.test("a panic is quoted by the entry etcd died on, not by the last line of its stack trace", () => {
  assert.equal(lastWords(panicOnDamagedDatabase), "failed to open database: invalid database");
});

Deno.test("without a panic or fatal entry, the last line is quoted", () => {
  assert.equal(
    lastWords('{"level":"info","msg":"starting"}\n{"level":"error","msg":"listen tcp :2379"}\n'),
    "listen tcp :2379",
  );
  assert.equal(lastWords("plain text\nexec format error"), "exec format error");
  assert.equal(lastWords(""), "");
});

Deno.test("a member crash-looping on a database it cannot open is waited for, not replaced", () => {
  const diagnosis = diagnoseMember(
    {
      name: "c-2",
      volume: { kind: "present", uid: "pvc-2", recorded: true },
      pod: {
        phase: "Running",
        terminating: false,
        etcd: {
          running: false,
          restarts: 4,
          waiting: { reason: "CrashLoopBackOff", message: "back-off 1m20s restarting" },
          lastExit: { exitCode: 2, reason: "Error", log: panicOnDamagedDatabase },
        },
      },
    },
    0,
    300_000,
  );
  assert.deepEqual(diagnosis, {
    kind: "impaired",
    reason:
      "etcd exited with code 2 (Error), 4 restarts: failed to open database: invalid database",
  });
});
