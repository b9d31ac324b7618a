// A stand-in for the operator's etcd traffic, run as its own process by member_shutdown_test.ts:
// `concurrency` observe loops (fresh clients, as the cluster actor makes them) and as many read
// loops on one long-lived client. Prints "ready" after the first answer, runs for the given
// milliseconds, then exits 0 and prints what it did. If the runtime's HTTP/2 stack dies under
// it, the exit status says so.
import { EtcdClient } from "../../../etcd/client.ts";
import { observeCluster } from "../../../etcd/health.ts";

const [endpoint, runForMs, concurrency] = [
  Deno.args[0],
  Number(Deno.args[1]),
  Number(Deno.args[2]),
];
let calls = 0;
let failures = 0;
let stopping = false;

async function repeat(call: () => Promise<boolean>): Promise<void> {
  while (!stopping) {
    calls++;
    if (!(await call().catch(() => false))) failures++;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

using persistent = new EtcdClient([endpoint], { callTimeoutMs: 2_000 });
const first = await observeCluster([endpoint], { callTimeoutMs: 2_000 });
if (first.errors.length > 0) {
  console.error(`no answer from ${endpoint}: ${first.errors[0].message}`);
  Deno.exit(2);
}
console.log("ready");
const observe = async () =>
  (await observeCluster([endpoint], { callTimeoutMs: 2_000 })).errors
    .length === 0;
const read = async () => {
  await persistent.etcd.get("probe").options(persistent.callOptions()).string();
  return true;
};
const loops = [
  ...Array.from({ length: concurrency }, () => repeat(observe)),
  ...Array.from({ length: concurrency }, () => repeat(read)),
];
await new Promise((resolve) => setTimeout(resolve, runForMs));
stopping = true;
await Promise.all(loops);
console.log(JSON.stringify({ calls, failures }));
