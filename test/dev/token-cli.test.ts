import { execFile } from "node:child_process";
import { join } from "node:path";
import { calculateJwkThumbprint, decodeJwt, type JWK } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startIdp, type RunningIdp } from "../../dev/idp.ts";

const root = join(import.meta.dirname, "..", "..");

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** `npm run --silent token -- <args>`, minus npm: node with tsx, against the given identity provider. */
function token(args: string[], idpOrigin: string): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ["--import", "tsx", join(root, "dev", "token.ts"), ...args],
      { cwd: root, env: { ...process.env, VERITY_IDP_ORIGIN: idpOrigin } },
      (error, stdout, stderr) => resolve({ code: error ? Number(error.code) : 0, stdout, stderr }),
    );
  });
}

let idp: RunningIdp;

beforeAll(async () => {
  idp = await startIdp({ port: 0 });
});

afterAll(async () => {
  await idp.close();
});

describe("npm run token", () => {
  it("prints only the access token, on one line", async () => {
    for (const name of ["alice", "acme-batch"]) {
      const run = await token([name], idp.issuer);
      expect(run.code).toBe(0);
      expect(run.stdout).toMatch(/^[\w-]+\.[\w-]+\.[\w-]+\n$/);
      expect(decodeJwt(run.stdout.trim()).sub).toBe(name);
    }
  });

  it("prints a DPoP-bound token and the private key it is bound to with --dpop", async () => {
    const run = await token(["--dpop", "bob"], idp.issuer);
    expect(run.code).toBe(0);
    const printed = JSON.parse(run.stdout) as { access_token: string; dpop_private_jwk: JWK };
    expect(printed.dpop_private_jwk).toMatchObject({ kty: "EC", crv: "P-256", alg: "ES256", d: expect.any(String) });
    const { kty, crv, x, y } = printed.dpop_private_jwk;
    expect(decodeJwt(printed.access_token)).toMatchObject({
      sub: "bob",
      cnf: { jkt: await calculateJwkThumbprint({ kty, crv, x, y }) },
    });
  });

  it("lists the known names and exits 2 for an unknown one", async () => {
    const run = await token(["eve"], idp.issuer);
    expect(run).toMatchObject({ code: 2, stdout: "" });
    expect(run.stderr).toContain("alice, bob, carol, mallory, dave, erin, acme-batch");
  });

  it("exits 2 with usage when no name is given", async () => {
    expect(await token([], idp.issuer)).toMatchObject({ code: 2, stdout: "" });
    expect(await token(["--dpop"], idp.issuer)).toMatchObject({ code: 2, stdout: "" });
    expect(await token(["--mtls", "alice"], idp.issuer)).toMatchObject({ code: 2, stdout: "" });
  });

  it("asks whether the stack runs, and exits 1, when the identity provider is unreachable", async () => {
    const gone = await startIdp({ port: 0 });
    await gone.close();
    const run = await token(["alice"], gone.issuer);
    expect(run).toMatchObject({ code: 1, stdout: "" });
    expect(run.stderr).toContain("is `npm start` running?");
  });
});
