const SIZE = 200 * 1024;
const t = "1 ".repeat(SIZE/2);
const NUMBER_RUN = /(?<![0-9A-Za-z_+(])[+(]?[0-9][0-9 ()\-./]{0,46}[0-9]/g;
for (let k=0;k<3;k++){
let s = performance.now(); let n=0;
NUMBER_RUN.lastIndex=0; for (let m = NUMBER_RUN.exec(t); m; m = NUMBER_RUN.exec(t)) n++;
console.log("regex", (performance.now()-s).toFixed(1), n);
}
