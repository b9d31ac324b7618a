// The planner and the Secret steps together, with real keys and signatures: a cluster's TLS is
// bootstrapped, renewed and its CA rotated, and no two running members ever stop trusting each other.
import assert from "node:assert/strict";
import { join } from "node:path";
import {
  applyCAStep,
  issueLeaf,
  type SecretContent,
  updateTrust,
} from "../../../../actors/tls/issue.ts";
import { planTLS, type TLSStep } from "../../../../actors/tls/plan.ts";
import {
  caRotationAnnotation,
  readCASecret,
  readLeafSecret,
  type SecretText,
  tlsDigest,
} from "../../../../actors/tls/secrets.ts";
import { resolveTLS } from "../../../../actors/tls/settings.ts";
import type { EtcdClusterTLS } from "../../../../actors/types.ts";
import { isSignedBy, parseCertificatesPem } from "../../../../pki/parse.ts";

const peers = ["c-0", "c-1", "c-2"];
const day = 86_400_000;

class World {
  ca: SecretContent | undefined;
  leaves = new Map<string, SecretText>();
  /** What each member's pod started with: its Secret's content then. */
  running = new Map<string, SecretText>();
  leader = "c-0";
  log: string[] = [];

  async plan(spec: EtcdClusterTLS, now: Date): Promise<TLSStep[]> {
    const members = await Promise.all(peers.map(async (peerName) => {
      const started = this.running.get(peerName);
      return {
        peerName,
        leader: peerName === this.leader,
        healthy: started !== undefined,
        runningDigest: started ? await tlsDigest([started]) : undefined,
        desiredDigest: await tlsDigest([this.leaves.get(`${peerName}-tls`)]),
      };
    }));
    return planTLS({
      now,
      clusterName: "c",
      namespace: "ns",
      tls: resolveTLS(spec),
      members,
      ca: readCASecret(this.ca?.data, this.ca?.annotations),
      leaves: new Map(
        ["c-0-tls", "c-1-tls", "c-2-tls", "c-tls-operator", "c-tls-client"]
          .map((name) => [name, readLeafSecret(this.leaves.get(name))]),
      ),
      userProvided: new Map(),
    });
  }

  async apply(step: TLSStep): Promise<void> {
    this.log.push(step.kind);
    switch (step.kind) {
      case "issueCA":
      case "startCARotation":
      case "promoteNextCA":
      case "dropPreviousCA":
        this.ca = await applyCAStep(step, this.ca);
        return;
      case "issueLeaf":
        this.leaves.set(step.issue.secretName, await issueLeaf(step.issue, this.ca!.data));
        return;
      case "updateTrust":
        this.leaves.set(
          step.secretName,
          updateTrust(this.leaves.get(step.secretName)!, this.ca!.data),
        );
        return;
      case "restartMember":
        if (step.moveLeaderFirst) this.leader = peers.find((peer) => peer !== step.peerName)!;
        this.running.set(step.peerName, this.leaves.get(`${step.peerName}-tls`)!);
        return;
      case "wait":
        throw new Error(`unexpected wait: ${step.reason}`);
    }
  }

  /** Every running member accepts every other's certificate and the operator's current one. */
  async assertAllTrusted(after: string): Promise<void> {
    for (const [peer, material] of this.running) {
      const trusted = parseCertificatesPem(material["ca.crt"]);
      const accepts = async (pem: string) => {
        const [certificate] = parseCertificatesPem(pem);
        for (const ca of trusted) if (await isSignedBy(certificate, ca)) return true;
        return false;
      };
      for (const [other, otherMaterial] of this.running) {
        assert.ok(
          await accepts(otherMaterial["tls.crt"]),
          `${peer} refuses ${other} after ${after}`,
        );
      }
      assert.ok(
        await accepts(this.leaves.get("c-tls-operator")!["tls.crt"]),
        `${peer} refuses the operator after ${after}`,
      );
    }
  }

  /** Plan and apply until nothing is left; returns the steps' kinds. */
  async converge(spec: EtcdClusterTLS, now: Date): Promise<string[]> {
    const start = this.log.length;
    for (let pass = 0; pass < 40; pass++) {
      const steps = await this.plan(spec, now);
      if (steps.length === 0) return this.log.slice(start);
      for (const step of steps) {
        await this.apply(step);
        if (this.running.size === peers.length) await this.assertAllTrusted(step.kind);
      }
    }
    throw new Error("did not converge in 40 passes");
  }
}

const spec: EtcdClusterTLS = { client: {}, peer: {} };
const start = new Date();

Deno.test("bootstrap, renewal and a full CA rotation with real certificates keep every member trusted", async () => {
  const world = new World();
  assert.deepEqual(await world.converge(spec, start), ["issueCA", ...Array(5).fill("issueLeaf")]);
  for (const peer of peers) world.running.set(peer, world.leaves.get(`${peer}-tls`)!);
  await world.assertAllTrusted("bootstrap");

  // 61 days on, every leaf (90 days, renewed 30 before) is renewed and each member restarts once.
  const renewal = await world.converge(spec, new Date(start.getTime() + 61 * day));
  assert.deepEqual(renewal.filter((kind) => kind === "issueLeaf").length, 5);
  assert.deepEqual(renewal.filter((kind) => kind === "restartMember").length, 3);

  const rotated = { ...spec, certificates: { caRotation: 1 } };
  const rotation = await world.converge(rotated, new Date(start.getTime() + 62 * day));
  assert.deepEqual(
    rotation.filter((kind) => !["issueLeaf", "updateTrust", "restartMember"].includes(kind)),
    ["startCARotation", "promoteNextCA", "dropPreviousCA"],
  );
  assert.equal(rotation.filter((kind) => kind === "restartMember").length, 9);
  assert.equal(world.ca?.annotations?.[caRotationAnnotation], "1");
  assert.deepEqual(Object.keys(world.ca!.data).sort(), ["ca.crt", "tls.crt", "tls.key"]);
  assert.equal(parseCertificatesPem(world.ca!.data["ca.crt"]).length, 1);
});

Deno.test("after a rotation OpenSSL verifies each member's certificate for its name against its own ca.crt", async () => {
  const world = new World();
  await world.converge(spec, start);
  for (const peer of peers) world.running.set(peer, world.leaves.get(`${peer}-tls`)!);
  await world.converge({ ...spec, certificates: { caRotation: 1 } }, start);
  const dir = await Deno.makeTempDir({ prefix: "tls-rotation-" });
  try {
    for (const peer of peers) {
      const secret = world.leaves.get(`${peer}-tls`)!;
      await Deno.writeTextFile(join(dir, "ca.crt"), secret["ca.crt"]);
      await Deno.writeTextFile(join(dir, "tls.crt"), secret["tls.crt"]);
      const verify = await new Deno.Command("openssl", {
        args: [
          "verify",
          "-verify_hostname",
          `${peer}.c.ns.svc`,
          "-CAfile",
          join(dir, "ca.crt"),
          join(dir, "tls.crt"),
        ],
        stdout: "piped",
        stderr: "piped",
      }).output();
      assert.ok(verify.success, new TextDecoder().decode(verify.stderr));
      assert.match(secret["tls.key"], /^-----BEGIN PRIVATE KEY-----/);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
