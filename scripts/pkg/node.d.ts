// Types of the Node.js entry: the same API as prejoin.js, including its init().
export * from "./prejoin.js";
export { default } from "./prejoin.js";
