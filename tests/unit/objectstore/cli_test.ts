// `object get --metadata`: an object another upload replaced is refused before any byte is read.
import assert from "node:assert/strict";
import { metadataProblem, runObjectCommand } from "../../../objectstore/cli.ts";
import { parseObjectURL } from "../../../objectstore/mod.ts";

const parsed = parseObjectURL("s3://backups/latest.db?region=us-east-1");
if (!parsed.ok) throw new Error(parsed.error.message);
const location = parsed.value;
const expected = { key: "etcd-backup-uid", value: "uid-new" };

Deno.test("an object written by the expected backup passes", () => {
  const stored = { "etcd-backup-uid": "uid-new", "etcd-backup": "prod/new" };
  assert.equal(metadataProblem({ location, metadata: expected }, stored), undefined);
});

Deno.test("an object without the key (uploaded by hand or by an older operator) passes to the sha256 check", () => {
  assert.equal(metadataProblem({ location, metadata: expected }, {}), undefined);
});

Deno.test("an object written by another backup is refused, naming both", () => {
  const stored = { "etcd-backup-uid": "uid-old", "etcd-backup": "prod/old" };
  const problem = metadataProblem({ location, metadata: expected }, stored);
  assert.match(problem ?? "", /etcd-backup=prod\/old, etcd-backup-uid=uid-old/);
  assert.match(problem ?? "", /etcd-backup-uid=uid-new was expected/);
});

Deno.test("without --metadata nothing is compared", () => {
  const stored = { "etcd-backup-uid": "uid-old" };
  assert.equal(metadataProblem({ location, metadata: undefined }, stored), undefined);
});

Deno.test("--metadata must be KEY=VALUE and only applies to get", async () => {
  const quiet = console.error;
  console.error = () => {};
  try {
    const url = "s3://backups/latest.db?region=us-east-1";
    assert.equal(await runObjectCommand(["get", url, "--metadata", "novalue"]), 2);
    assert.equal(await runObjectCommand(["get", url, "--metadata", "Upper=x"]), 2);
    assert.equal(await runObjectCommand(["put", url, "--metadata", "a=b"]), 2);
  } finally {
    console.error = quiet;
  }
});
