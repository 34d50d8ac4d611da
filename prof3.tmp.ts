import { scanNumbers } from "./worker/data/classify/numeric.ts";
const SIZE = 200 * 1024;
for (const t of ["1 ".repeat(SIZE/2), "12-3.4 (5)/6 ".repeat(SIZE/13)]) for (let k=0;k<4;k++){
let s = performance.now(); let n=0;
scanNumbers(t, () => n++);
console.log("num", (performance.now()-s).toFixed(1), n);
}
