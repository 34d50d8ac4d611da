/** The data plane's transforms and reply filters with the gateway's own classifier (detectText). */
import { describe, expect, it } from "vitest";
import { detectText } from "../../../worker/data/classify/detect.ts";
import { createReplyFilter, DEFAULT_CLEARANCE } from "../../../worker/data/reply-filter.ts";
import { TokenVault } from "../../../worker/data/tokens.ts";
import { FINDING_TYPES, transformRequest, transformRules } from "../../../worker/data/transform.ts";
import { parseObligations } from "../../../worker/policy/index.ts";
import { PROVIDERS } from "../../../worker/providers/index.ts";

const detect = (text: string) => detectText(text);
const SAMPLES = [
  "mail jane.doe@example.com or call +44 20 7946 0958",
  "card 4111 1111 1111 1111, IBAN DE89 3704 0044 0532 0130 00, SSN 123-45-6789",
  "key AKIAIOSFODNN7EXAMPLE and token ghp_0123456789abcdefghijklmnopqrstuvwxyzAB",
  "server 192.168.10.20, Jane Smith lives in Berlin",
  "postgres://admin:hunter2secret@db.example.com:5432/app",
];

describe("with the gateway's classifier", () => {
  it("every type the classifier reports on the samples is one obligations may name", () => {
    for (const sample of SAMPLES) for (const finding of detectText(sample)) expect(FINDING_TYPES.has(finding.type), finding.type).toBe(true);
  });

  it("redact:PII; mask:PCI leaves nothing of those categories in what would leave", () => {
    const body = { model: "m", messages: [{ role: "user", content: SAMPLES.slice(0, 2).join("\n") }] };
    const out = transformRequest(PROVIDERS.openai, body, transformRules(parseObligations("redact:PII; mask:PCI", "t")), new TokenVault(), detect, ["pii", "pci"]);
    expect(out.survivors).toEqual({});
    const sent = (out.body.messages as Array<{ content: string }>)[0]!.content;
    expect(sent).not.toContain("jane.doe");
    expect(sent).toContain("**** **** **** 1111");
    for (const finding of detectText(sent)) expect(["pii", "pci"]).not.toContain(finding.category);
  });

  it("an AWS key split anywhere across two deltas never reaches the caller", () => {
    const reply = `${"The answer is here. ".repeat(20)}Use AKIAIOSFODNN7EXAMPLE for that. ${"More words follow. ".repeat(20)}`;
    const start = reply.indexOf("AKIA");
    for (let cut = start - 1; cut <= start + 21; cut++) {
      const filter = createReplyFilter({ clearance: DEFAULT_CLEARANCE, detect });
      const out = filter.push(reply.slice(0, cut)).text + filter.push(reply.slice(cut)).text + filter.end().text;
      expect(out, `cut ${cut}`).toBe(reply.replace("AKIAIOSFODNN7EXAMPLE", "[REDACTED:SECRET_AWS_ACCESS_KEY]"));
    }
  });
});
