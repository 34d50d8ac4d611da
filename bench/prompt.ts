/**
 * The request bodies: OpenAI chat completions with one user message of ordinary prose of about
 * `bytes` bytes. No numbers, addresses or key-like strings, so Verity's classifier finds nothing and
 * policy allows it (public data, served by eu-public for alice).
 */
const PROSE = [
  "The community garden on the hill opens early in spring, when the soil is still cold and damp.",
  "Volunteers bring seedlings, old tools and thermos flasks of tea, and the first week is mostly talk.",
  "Someone always argues that tomatoes should wait until the nights are warmer, and someone always plants them anyway.",
  "By midsummer the beans have climbed every pole and the paths between the beds have almost disappeared.",
  "Children count the bees on the lavender while their parents compare notes on slugs and watering.",
  "In autumn the harvest is shared out on long tables, and the leftover squash is carried down to the library.",
  "Please summarise this description in three sentences and suggest one thing the gardeners could improve.",
];

export function promptText(bytes: number): string {
  let text = "";
  for (let i = 0; text.length < bytes; i++) text += (text ? " " : "") + PROSE[i % PROSE.length];
  return text.slice(0, bytes);
}

export function chatBody(bytes: number, stream: boolean): string {
  return JSON.stringify({
    model: "gpt-4o-mini",
    messages: [{ role: "user", content: promptText(bytes) }],
    ...(stream ? { stream: true } : {}),
  });
}
