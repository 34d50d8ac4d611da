import { GatewayError } from "../errors.ts";

/** Small shape checks shared by the wire-format parsers; each failure names the offending field. */

export function bad(message: string): GatewayError {
  return new GatewayError("invalid_request", message);
}

export function requireString(body: Record<string, unknown>, field: string): string {
  const value = body[field];
  if (typeof value !== "string" || value.length === 0) throw bad(`"${field}" must be a non-empty string`);
  return value;
}

export function optionalBoolean(body: Record<string, unknown>, field: string): boolean {
  const value = body[field];
  if (value === undefined || value === null) return false;
  if (typeof value !== "boolean") throw bad(`"${field}" must be a boolean`);
  return value;
}

export function optionalPositiveInteger(body: Record<string, unknown>, field: string): number | undefined {
  const value = body[field];
  if (value === undefined || value === null) return undefined;
  if (!Number.isSafeInteger(value) || (value as number) < 1) throw bad(`"${field}" must be a positive integer`);
  return value as number;
}

export function requireArray(body: Record<string, unknown>, field: string, options: { nonEmpty: boolean }): unknown[] {
  const value = body[field];
  if (!Array.isArray(value) || (options.nonEmpty && value.length === 0)) {
    throw bad(`"${field}" must be ${options.nonEmpty ? "a non-empty" : "an"} array`);
  }
  return value;
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/**
 * Text of a message's content: a plain string or an array of parts; text parts contribute their
 * text, tool results their nested content, other parts (images, …) their JSON so nothing escapes
 * classification.
 */
export function contentTexts(content: unknown, where: string): string[] {
  if (typeof content === "string") return [content];
  if (content === null || content === undefined) return [];
  if (!Array.isArray(content)) throw bad(`${where}.content must be a string or an array of parts`);
  const texts: string[] = [];
  content.forEach((part, i) => {
    if (!isRecord(part) || typeof part.type !== "string") throw bad(`${where}.content[${i}] must be an object with a "type"`);
    if (typeof part.text === "string") texts.push(part.text);
    else if (part.content !== undefined) texts.push(...contentTexts(part.content, `${where}.content[${i}]`));
    else if (part.input !== undefined) texts.push(JSON.stringify(part.input));
  });
  return texts;
}
