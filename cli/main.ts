/** `verity <command>`: the operator CLI. */
const [command, ...rest] = process.argv.slice(2);
console.error(`verity: unknown command ${JSON.stringify([command, ...rest].join(" "))}`);
process.exit(2);
