import { faker } from "@faker-js/faker";
import { writeFileSync, readFileSync, existsSync } from "node:fs";
import { mixedText } from "./bench/classify.ts";
if (!existsSync("/tmp/mixed.txt")) { faker.seed(4096); writeFileSync("/tmp/mixed.txt", mixedText(1024*1024)); }
