/**
 * The seeded principals of the dev identity provider (dev/accounts.json), as one typed lookup shared
 * by the IdP, the token CLI and the tests. Web APIs only: test/support/tokens.ts imports it inside
 * workerd too.
 */
import accounts from "./accounts.json";

export interface SeededUser {
  kind: "user";
  name: string;
  tenant: string;
  password: string;
  /** MFA users get acr `urn:verity:acr:mfa` and amr `["pwd","otp"]`; the dev IdP asks no second factor. */
  mfa: boolean;
  /** The token's `groups` claim. */
  groups: readonly string[];
}

export interface SeededWorkload {
  kind: "workload";
  /** Also the OAuth client id the workload authenticates as (client credentials). */
  name: string;
  tenant: string;
  clientSecret: string;
}

export type SeededPrincipal = SeededUser | SeededWorkload;

/** The confidential client that users' password grants go through (`npm run token`, tests). */
export const CLI_CLIENT: { readonly id: string; readonly secret: string } = accounts.cliClient;

const users: ReadonlyMap<string, SeededUser> = new Map(
  Object.entries(accounts.users).map(([name, user]) => [name, { kind: "user", name, ...user }]),
);

const workloads: ReadonlyMap<string, SeededWorkload> = new Map(
  Object.entries(accounts.workloads).map(([name, workload]) => [name, { kind: "workload", name, ...workload }]),
);

export function findUser(name: string): SeededUser | undefined {
  return users.get(name);
}

export function findWorkload(name: string): SeededWorkload | undefined {
  return workloads.get(name);
}

export function findPrincipal(name: string): SeededPrincipal | undefined {
  return findUser(name) ?? findWorkload(name);
}

export function principalNames(): string[] {
  return [...users.keys(), ...workloads.keys()];
}

export function seededWorkloads(): SeededWorkload[] {
  return [...workloads.values()];
}
