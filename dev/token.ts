/**
 * `npm run --silent token -- <user>`: prints only an access token for a seeded user or workload, issued
 * by the dev identity provider that `npm start` runs, so that `$(npm run --silent token -- alice)` works.
 *
 * Exit codes: 0 printed a token; 1 the identity provider is unreachable or refused; 2 bad usage.
 * VERITY_IDP_ORIGIN overrides where the identity provider is (tests run theirs on a free port).
 */
import { principalNames } from "./accounts.ts";
import { IDP_ORIGIN } from "./config.ts";
import { TokenRequestError, tokenFor } from "../test/support/tokens.ts";

const USAGE_ERROR = 2;
const RUNTIME_ERROR = 1;

async function main(args: readonly string[]): Promise<number> {
  const [name, ...extra] = args;
  if (name === undefined || extra.length > 0) {
    console.error(`usage: npm run --silent token -- <name>   (one of: ${principalNames().join(", ")})`);
    return USAGE_ERROR;
  }
  try {
    process.stdout.write(`${await tokenFor(name, process.env.VERITY_IDP_ORIGIN ?? IDP_ORIGIN)}\n`);
    return 0;
  } catch (error) {
    return reportFailure(error);
  }
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
