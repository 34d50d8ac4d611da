/**
 * `npm run --silent token -- <user>`: prints only an access token for a seeded user or workload, issued
 * by the dev identity provider that `npm start` runs, so that `$(npm run --silent token -- alice)` works.
 * `npm run --silent token -- --dpop <user>` prints `{"access_token", "dpop_private_jwk"}` instead: a
 * DPoP-bound token (RFC 9449) and the private key to sign each request's proof with.
 *
 * Exit codes: 0 printed a token; 1 the identity provider is unreachable or refused; 2 bad usage.
 * VERITY_IDP_ORIGIN overrides where the identity provider is (tests run theirs on a free port).
 */
import { exportJWK, generateKeyPair } from "jose";
import { principalNames } from "./accounts.ts";
import { IDP_ORIGIN } from "./config.ts";
import { TokenRequestError, dpopTokenFor, tokenFor } from "../test/support/tokens.ts";

const USAGE_ERROR = 2;
const RUNTIME_ERROR = 1;
const DPOP_FLAG = "--dpop";

async function main(args: readonly string[]): Promise<number> {
  const dpop = args.includes(DPOP_FLAG);
  const [name, ...extra] = args.filter((arg) => arg !== DPOP_FLAG);
  if (name === undefined || extra.length > 0 || name.startsWith("-")) {
    console.error(`usage: npm run --silent token -- [${DPOP_FLAG}] <name>   (one of: ${principalNames().join(", ")})`);
    return USAGE_ERROR;
  }
  const idpOrigin = process.env.VERITY_IDP_ORIGIN ?? IDP_ORIGIN;
  try {
    process.stdout.write(`${dpop ? await dpopToken(name, idpOrigin) : await tokenFor(name, idpOrigin)}\n`);
    return 0;
  } catch (error) {
    return reportFailure(error);
  }
}

/** The key must leave this process to be useful, hence extractable. */
async function dpopToken(name: string, idpOrigin: string): Promise<string> {
  const keyPair = await generateKeyPair("ES256", { extractable: true });
  const { accessToken } = await dpopTokenFor(name, { idpOrigin, keyPair });
  const privateJwk = { ...(await exportJWK(keyPair.privateKey)), alg: "ES256" };
  return JSON.stringify({ access_token: accessToken, dpop_private_jwk: privateJwk });
}

function reportFailure(error: unknown): number {
  if (!(error instanceof TokenRequestError)) throw error;
  switch (error.code) {
    case "unknown_principal":
      console.error(error.message);
      return USAGE_ERROR;
    case "idp_unreachable":
      console.error(`${error.message}: is \`npm start\` running?`);
      return RUNTIME_ERROR;
    case "idp_refused":
    case "idp_bad_response":
      console.error(error.message);
      return RUNTIME_ERROR;
  }
}

process.exitCode = await main(process.argv.slice(2));
