import { regtestGenesis } from "../genesis.ts";
console.log(regtestGenesis().block.header.hashHex);
