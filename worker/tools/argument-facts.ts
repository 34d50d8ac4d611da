/**
 * The facts a policy may see about a tool call's arguments (schema type `ToolArguments`). Cedar
 * records are closed and every tool's arguments differ, so the gateway derives the same few facts for
 * every tool instead of handing Cedar the arguments. Pure; runs on arguments that passed the schema.
 */
import type { ToolArgumentFacts } from "../policy/index.ts";

/** Top-level argument names whose values are mail recipients. */
const RECIPIENT_FIELDS = ["to", "cc", "bcc"] as const;

/**
 * The domain of one recipient (`a@b.example` or `Name <a@b.example>`), lower-cased; "" when it has
 * none, so an allowlist of domains refuses it rather than skipping it.
 */
function domainOf(recipient: string): string {
  const angle = /<([^<>]*)>\s*$/.exec(recipient);
  const address = (angle ? angle[1]! : recipient).trim();
  const at = address.lastIndexOf("@");
  if (at <= 0) return "";
  return address.slice(at + 1).trim().toLowerCase();
}

function recipientsOf(value: unknown): string[] {
  const texts = typeof value === "string" ? [value] : Array.isArray(value) ? value.filter((v): v is string => typeof v === "string") : [];
  // A non-string entry in a recipient list still names someone: count it as a domainless address.
  const unreadable = Array.isArray(value) ? value.length - texts.length : typeof value === "string" || value === undefined ? 0 : 1;
  const parts = texts.flatMap((text) => text.split(",")).map((part) => part.trim()).filter((part) => part.length > 0);
  return [...parts.map(domainOf), ...Array<string>(unreadable).fill("")];
}

export function argumentFacts(args: unknown): ToolArgumentFacts {
  if (typeof args !== "object" || args === null || Array.isArray(args)) return { recipientDomains: [], matter: "" };
  const record = args as Record<string, unknown>;
  const domains = new Set<string>();
  for (const field of RECIPIENT_FIELDS) for (const domain of recipientsOf(record[field])) domains.add(domain);
  return { recipientDomains: [...domains].sort(), matter: typeof record.matter === "string" ? record.matter : "" };
}
