/**
 * Labels of referenced resources (documents, matters) combined by high-water mark: the request is at
 * least as sensitive as the most sensitive thing it refers to. An unknown label value counts as
 * restricted (a typo in a label must not declassify), and an unlabeled resource counts as `unlabeled`.
 */
import type { ClassificationLevel } from "../../context.ts";
import { LEVEL_NAMES } from "../../context.ts";

export function labelLevel(
  referenced: readonly string[],
  labels: Readonly<Record<string, string>> | ReadonlyMap<string, string>,
  unlabeled: ClassificationLevel = 1,
): ClassificationLevel {
  let level = 0;
  for (const id of referenced) {
    const label = labels instanceof Map ? labels.get(id) : Object.hasOwn(labels, id) ? (labels as Readonly<Record<string, string>>)[id] : undefined;
    const found = label === undefined ? unlabeled : LEVEL_NAMES.indexOf(label.trim().toLowerCase() as (typeof LEVEL_NAMES)[number]);
    level = Math.max(level, found < 0 ? 3 : found);
  }
  return level as ClassificationLevel;
}
