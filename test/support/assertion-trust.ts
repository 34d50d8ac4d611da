/**
 * Workers-project set-up: the self-hosted mock backend (eu-confidential) verifies the gateway-signed
 * assertion against the keys of the gateway at :8787 (the stack's), but the Worker tests drive their
 * own in-process gateway with its own key ring. Before each file, that gateway's published keys are
 * registered with the mock (TEST ONLY admin route), so its assertions verify like the stack's.
 * Unit tests (test/unit) skip it; so does a run without the stack (nothing listens).
 */
import { beforeAll, expect } from "vitest";
import { MOCK_BACKENDS } from "../../dev/config.ts";
import { gatewayFetch } from "./gateway.ts";

beforeAll(async () => {
  // Only the Worker tests drive the gateway against the stack; unit tests never reach the mocks.
  if (!(expect.getState().testPath ?? "").includes("/test/worker/")) return;
  const selfHosted = MOCK_BACKENDS.filter((b) => b.assertion);
  let reachable: Response;
  try {
    reachable = await fetch(`http://127.0.0.1:${selfHosted[0]!.port}/__mock/requests`);
    await reachable.arrayBuffer();
  } catch {
    return;
  }
  const jwks = await (await gatewayFetch("/.well-known/jwks.json")).text();
  for (const backend of selfHosted) {
    const response = await fetch(`http://127.0.0.1:${backend.port}/__mock/assertion-keys`, { method: "POST", body: jwks });
    if (!response.ok) throw new Error(`registering the gateway's keys with ${backend.id} failed: ${response.status}`);
  }
});
