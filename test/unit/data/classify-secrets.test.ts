/** Secrets: provider-shaped keys, private keys, JWTs, passwords in URLs, keyword + entropy. */
import { describe, expect, it } from "vitest";
import { detectText } from "../../../worker/data/index.ts";

const a = (n: number, alphabet = "aB3dE5gH7jK9mN1pQ2rS4tU6vW8xY0z") => Array.from({ length: n }, (_, i) => alphabet[(i * 7 + 3) % alphabet.length]).join("");
const b64url = (value: unknown) => btoa(JSON.stringify(value)).replace(/=+$/, "").replace(/\+/g, "-").replace(/\//g, "_");

function types(text: string): Array<[string, string]> {
  return detectText(text).map((f) => [f.type, text.slice(f.start, f.end)]);
}

describe("provider keys", () => {
  const cases: Array<[string, string]> = [
    ["SECRET_AWS_ACCESS_KEY", "AKIAIOSFODNN7EXAMPLE"],
    ["SECRET_AWS_ACCESS_KEY", "ASIAY34FZKBOKMUTVV7A"],
    ["SECRET_GCP_API_KEY", `AIza${a(35)}`],
    ["SECRET_GITHUB_TOKEN", `ghp_${a(36)}`],
    ["SECRET_GITHUB_TOKEN", `github_pat_${a(22)}_${a(59)}`],
    ["SECRET_GITLAB_TOKEN", `glpat-${a(20)}`],
    ["SECRET_SLACK_TOKEN", `xoxb-123456789012-1234567890123-${a(24)}`],
    ["SECRET_SLACK_WEBHOOK", "https://hooks.slack.com/services/T0ABCDEF1/B0ABCDEF2/abcdefghijklmnopqrstuvwx"],
    ["SECRET_STRIPE_KEY", `sk_live_${a(24)}`],
    ["SECRET_OPENAI_API_KEY", `sk-proj-${a(48)}`],
    ["SECRET_OPENAI_API_KEY", `sk-${a(48)}`],
    ["SECRET_ANTHROPIC_API_KEY", `sk-ant-api03-${a(93)}AA`],
    ["SECRET_HUGGINGFACE_TOKEN", `hf_${a(34)}`],
    ["SECRET_GROQ_API_KEY", `gsk_${a(52)}`],
    ["SECRET_XAI_API_KEY", `xai-${a(80)}`],
    ["SECRET_NPM_TOKEN", `npm_${a(36)}`],
    ["SECRET_AZURE_STORAGE_KEY", `AccountKey=${a(86)}==`],
    ["SECRET_AZURE_CLIENT_SECRET", `abc8Q~${a(34)}`],
    ["SECRET_SENDGRID_API_KEY", `SG.${a(22)}.${a(43)}`],
  ];
  it.each(cases)("%s: %s", (type, key) => {
    const found = types(`here is the key ${key} thanks`);
    expect(found).toEqual([[type, key]]);
    expect(detectText(key)[0]).toMatchObject({ category: "secret", level: 3 });
  });
  it.each(["AKIA1234", "sk-short", "ghp_tooShort", "AKIAIOSFODNN7EXAMPLEX", "xAKIAIOSFODNN7EXAMPLE"])("not a key: %s", (text) => {
    expect(types(`value ${text} here`)).toEqual([]);
  });
});

describe("private keys and JWTs", () => {
  it("covers a whole PEM block", () => {
    const pem = "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n-----END OPENSSH PRIVATE KEY-----";
    expect(types(`key:\n${pem}\nend`)).toEqual([["SECRET_PRIVATE_KEY", pem]]);
    expect(types("-----BEGIN PGP PRIVATE KEY BLOCK-----")).toEqual([["SECRET_PRIVATE_KEY", "-----BEGIN PGP PRIVATE KEY BLOCK-----"]]);
    expect(types("-----BEGIN PUBLIC KEY-----")).toEqual([]);
  });
  it("a JWT must have a header naming an algorithm", () => {
    const jwt = `${b64url({ alg: "RS256", typ: "JWT" })}.${b64url({ sub: "alice", exp: 1 })}.${a(43)}`;
    expect(types(`Authorization: Bearer ${jwt}`)).toEqual([["SECRET_JWT", jwt]]);
    const fake = `${b64url({ foo: "bar" })}.${b64url({ sub: "alice" })}.${a(10)}`;
    expect(types(`token ${fake}`).filter(([t]) => t === "SECRET_JWT")).toEqual([]);
  });
});

describe("passwords in URLs and connection strings", () => {
  it.each([
    ["SECRET_CONNECTION_STRING", "postgres://admin:s3cretPw@db.example.com:5432", "/app"],
    ["SECRET_CONNECTION_STRING", "mongodb+srv://app:Xk29dj2@cluster0.abcde.mongodb.net", "/db"],
    ["SECRET_CONNECTION_STRING", "redis://:hunter22@cache.internal:6379", ""],
    ["SECRET_URL_PASSWORD", "https://deploy:gh7Tq92x@git.example.com", "/repo.git"],
  ])("%s", (type, secret, rest) => {
    expect(types(`use ${secret}${rest} now`)).toEqual([[type, secret]]);
  });
  it("no password, or a placeholder, is not a secret", () => {
    expect(types("https://example.com/path?q=1")).toEqual([]);
    expect(types("postgres://user@db.example.com/app")).toEqual([]);
    expect(types("postgres://user:<password>@db.example.com/app")).toEqual([]);
    expect(types("postgres://user:${DB_PASSWORD}@db.example.com/app")).toEqual([]);
  });
});

describe("keyword + entropy", () => {
  it("a random value after a secret-sounding key is SECRET_GENERIC", () => {
    expect(types("api_key = 'a8f9Kq2mZ7xLp3Rt9vBn4Wc1'")).toEqual([["SECRET_GENERIC", "a8f9Kq2mZ7xLp3Rt9vBn4Wc1"]]);
    expect(types('{"client_secret": "Zx81kQm2Lp09aBc7Yt5Rw3Nv"}')).toEqual([["SECRET_GENERIC", "Zx81kQm2Lp09aBc7Yt5Rw3Nv"]]);
    expect(types("AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY")[0]![0]).toBe("SECRET_GENERIC");
  });
  it("a word, a low-entropy value or a placeholder is not", () => {
    expect(types("token: refreshing")).toEqual([]);
    expect(types("secret = aaaaaaaaaaaaaaaaaaaaaaaa1")).toEqual([]);
    expect(types("api_key=<your-key-here>")).toEqual([]);
    expect(types("the secret of success is hard work")).toEqual([]);
  });
  it("a password after its keyword is SECRET_PASSWORD whatever its entropy", () => {
    expect(types("password: hunter22")).toEqual([["SECRET_PASSWORD", "hunter22"]]);
    expect(types("Server=db;User Id=sa;Password=Tr0ub4dor&3;")).toEqual([["SECRET_PASSWORD", "Tr0ub4dor&3"]]);
    expect(types("password: ********")).toEqual([]);
  });
  it("a specific key found through its keyword is reported once, as itself", () => {
    const key = `sk-proj-${a(48)}`;
    expect(types(`OPENAI_API_KEY=${key}`)).toEqual([["SECRET_OPENAI_API_KEY", key]]);
  });
});

describe("findings inside a secret are the secret's", () => {
  it("the host of a connection string is not an e-mail address", () => {
    expect(types("postgres://bob:pw123456@example.com/app").map(([t]) => t)).toEqual(["SECRET_CONNECTION_STRING"]);
  });
});
