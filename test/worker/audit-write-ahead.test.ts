/**
 * The write-ahead commit with the work that runs beside it (worker/pipeline.ts): the backend's signed
 * assertion is prepared while the allow record commits, because it sends nothing out of the gateway.
 * A failed commit still denies, with nothing sent upstream and nothing retained; a hop that fails
 * after a durable commit is refused as before.
 */
import { createExecutionContext, env, waitOnExecutionContext } from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import { createApp } from "../../worker/app.ts";
import { createIdentity } from "../../worker/identity/index.ts";
import { type AuditRecord, type AuditSink, createAuditSink, KEY_RING_NAME } from "../../worker/verify/index.ts";
import { createConfigSource } from "../../worker/workload/index.ts";
import { bearer, chatBody, receivedWith } from "../support/gateway.ts";
import { seedKv } from "../support/seed.ts";
import { tokenFor } from "../support/tokens.ts";

let alice: string;

beforeAll(async () => {
  await seedKv(env.CONFIG);
  alice = await tokenFor("alice");
});

/** The KeyRing binding with `signJws` replaced; everything else reaches the real object. */
function keyRingSigning(signJws: (claims: Record<string, unknown>, typ: string) => Promise<string>): typeof env.KEY_RING {
  const bound = (target: object, prop: string | symbol): unknown => {
    const value: unknown = Reflect.get(target, prop);
    return typeof value === "function" ? value.bind(target) : value;
  };
  return new Proxy(env.KEY_RING, {
    get(target, prop) {
      if (prop !== "get") return bound(target, prop);
      return (id: DurableObjectId) => new Proxy(target.get(id), { get: (stub, p) => (p === "signJws" ? signJws : bound(stub, p)) });
    },
  });
}

const realRing = () => env.KEY_RING.get(env.KEY_RING.idFromName(KEY_RING_NAME)) as unknown as { signJws(c: Record<string, unknown>, t: string): Promise<string> };

/** A sink that refuses the allow record (after `before` settles) and commits the rest; it lists what it committed. */
function refusingAllow(before: () => Promise<unknown>): { sink: AuditSink; committed: AuditRecord[] } {
  const real = createAuditSink(env.AUDIT_LOG);
  const committed: AuditRecord[] = [];
  return {
    committed,
    sink: {
      async commit(record) {
        if (record.type === "decision" && record.decision === "allow") {
          await before();
          throw new Error("Durable Object overloaded");
        }
        committed.push(record);
        return real.commit(record);
      },
    },
  };
}

const ctx = createExecutionContext();

/** A restricted prompt from alice: eu-confidential, which asks for the assertion, with `retain:prompt`. */
async function restrictedChat(sink: AuditSink, keyRing: typeof env.KEY_RING, marker: string): Promise<Response> {
  const app = createApp({ config: createConfigSource(), authenticate: createIdentity({}), audit: () => sink });
  return app.request(
    "https://gateway.test/v1/chat/completions",
    { method: "POST", body: chatBody(marker), headers: bearer(alice, { "x-verity-classification": "restricted" }) },
    { ...env, KEY_RING: keyRing },
    ctx,
  );
}

const codeOf = async (response: Response) => ((await response.json()) as { error: { code: string } }).error.code;

describe("the write-ahead commit with the hop prepared beside it", () => {
  it("denies with audit_unavailable when the allow cannot commit, though the assertion was signed meanwhile", async () => {
    let signed!: () => void;
    const signing = new Promise<void>((resolve) => (signed = resolve));
    const keyRing = keyRingSigning(async (claims, typ) => {
      const jws = await realRing().signJws(claims, typ);
      signed();
      return jws;
    });
    // The commit fails only once the assertion exists: the hop has run, and must still send nothing.
    const { sink, committed } = refusingAllow(() => signing);
    const marker = `write-ahead-${crypto.randomUUID()}`;
    const response = await restrictedChat(sink, keyRing, marker);
    expect(response.status).toBe(503);
    expect(await codeOf(response)).toBe("audit_unavailable");
    expect(await receivedWith("eu-confidential", marker)).toBeUndefined();
    // The prompt was not sealed: no payload record, and no completion for a request that never went out.
    await waitOnExecutionContext(ctx);
    expect(committed.map((r) => r.type)).not.toContain("payload_stored");
    expect(committed.map((r) => r.type)).not.toContain("completion");
  });

  it("denies with audit_unavailable, not the hop's error, when both the commit and the hop fail", async () => {
    let refused!: () => void;
    const refusing = new Promise<void>((resolve) => (refused = resolve));
    const keyRing = keyRingSigning(async () => {
      refused();
      throw new Error("KeyRing unavailable");
    });
    const { sink } = refusingAllow(() => refusing);
    const marker = `write-ahead-${crypto.randomUUID()}`;
    const response = await restrictedChat(sink, keyRing, marker);
    expect(response.status).toBe(503);
    expect(await codeOf(response)).toBe("audit_unavailable");
    expect(await receivedWith("eu-confidential", marker)).toBeUndefined();
  });

  it("refuses with assertion_unavailable as before when the hop fails after a durable commit", async () => {
    const keyRing = keyRingSigning(async () => {
      throw new Error("KeyRing unavailable");
    });
    const marker = `write-ahead-${crypto.randomUUID()}`;
    const response = await restrictedChat(createAuditSink(env.AUDIT_LOG), keyRing, marker);
    expect(await codeOf(response)).toBe("assertion_unavailable");
    expect(await receivedWith("eu-confidential", marker)).toBeUndefined();
    const requestId = response.headers.get("x-request-id")!;
    await waitOnExecutionContext(ctx);
    const log = env.AUDIT_LOG.get(env.AUDIT_LOG.idFromName("acme")) as unknown as {
      treeHead(): Promise<{ size: number }>;
      entries(start: number, end: number): Promise<Array<{ canonical: string }>>;
    };
    const { size } = await log.treeHead();
    const records = (await log.entries(Math.max(0, size - 50), size))
      .map((e) => JSON.parse(e.canonical) as AuditRecord)
      .filter((r) => r.requestId === requestId);
    // The allow is in the log before anything else of the request; then the prompt it retained and the failed completion.
    expect(records[0]).toMatchObject({ type: "decision", decision: "allow" });
    expect(records.map((r) => r.type)).toEqual(["decision", "payload_stored", "completion"]);
    expect(records.at(-1)).toMatchObject({ error: "assertion_unavailable" });
  });
});
