/**
 * Rewriting the texts of a request body (data-plane transforms) without touching anything else. The
 * walk mirrors what the parsers hand to the classifier (`contentTexts` in validate.ts), so that every
 * text that was classified is also a text that can be transformed; the caller's body is never mutated.
 */
import { isRecord } from "./validate.ts";

export type TextMapper = (text: string) => string;

/** A message's content: a string, or parts whose text, nested content or tool input is rewritten. */
export function mapContent(content: unknown, fn: TextMapper): unknown {
  if (typeof content === "string") return fn(content);
  if (!Array.isArray(content)) return content;
  return content.map((part) => {
    if (!isRecord(part)) return part;
    if (typeof part.text === "string") return { ...part, text: fn(part.text) };
    if (part.content !== undefined) return { ...part, content: mapContent(part.content, fn) };
    if (part.input !== undefined) return { ...part, input: mapJsonStrings(part.input, fn) };
    return part;
  });
}

/**
 * Every string (and number, which may hold a card number) inside a JSON value, keys excepted. A
 * number whose text the mapper changes becomes the changed string.
 */
export function mapJsonStrings(value: unknown, fn: TextMapper): unknown {
  if (typeof value === "string") return fn(value);
  if (typeof value === "number") {
    const text = String(value);
    const mapped = fn(text);
    return mapped === text ? value : mapped;
  }
  if (Array.isArray(value)) return value.map((item) => mapJsonStrings(item, fn));
  if (isRecord(value)) return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, mapJsonStrings(item, fn)]));
  return value;
}

/** A JSON document held in a string (OpenAI tool-call arguments); text that is not JSON is mapped as text. */
export function mapJsonText(text: string, fn: TextMapper): string {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return fn(text);
  }
  let changed = false;
  const mapped = mapJsonStrings(parsed, (inner) => {
    const out = fn(inner);
    if (out !== inner) changed = true;
    return out;
  });
  // Untouched arguments stay byte for byte as the caller sent them.
  return changed ? JSON.stringify(mapped) : text;
}
