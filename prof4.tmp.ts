import { faker } from "@faker-js/faker";
import { mixedText } from "./bench/classify.ts";
import { classify } from "./worker/data/index.ts";
faker.seed(4096);
const prompt = mixedText(4096);
const mixed = mixedText(1024*1024);
for (let k=0;k<5;k++){ const s=performance.now(); classify([mixed]); console.log("mixed", (performance.now()-s).toFixed(1)); }
const s=performance.now(); for (let i=0;i<1000;i++) classify([prompt]); console.log("prompt", ((performance.now()-s)/1000).toFixed(4));
