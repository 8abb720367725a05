/**
 * The devnet's wallet: one deterministic key, its P2WPKH and P2PKH scripts, and signing of
 * spends with bitcoinjs-lib sighashes and a @noble/secp256k1 {@link Signer}.
 *
 * @module
 */
import { networks, payments, script as bscript, type Signer, Transaction } from "bitcoinjs-lib";
import { bytesEqual, displayHexToHash, hash160, sha256 } from "./bytes.ts";
import { type ParsedTx, parseTx } from "./codec.ts";
import { p2pkhScript, p2wpkhScript } from "./script.ts";
import { secp } from "./secp.ts";

/** bitcoinjs-lib {@link Signer} backed by @noble/secp256k1 (RFC6979, low-S, 64-byte compact). */
export class NobleSigner implements Signer {
  /** Compressed public key. */
  readonly publicKey: Uint8Array;
  readonly #secretKey: Uint8Array;

  /** Wraps a 32-byte secret key. */
  constructor(secretKey: Uint8Array) {
    this.#secretKey = Uint8Array.from(secretKey);
    this.publicKey = secp.getPublicKey(this.#secretKey, true);
  }

  /** Signs a 32-byte sighash; returns the 64-byte compact signature bitcoinjs-lib expects. */
  sign(hash: Uint8Array): Uint8Array {
    return secp.sign(hash, this.#secretKey, { prehash: false, lowS: true });
  }
}

/** A wallet coin to spend. */
export interface SpendableCoin {
  /** Display-order txid. */
  readonly txid: string;
  readonly vout: number;
  readonly valueSats: bigint;
  readonly script: Uint8Array;
}

/** The devnet wallet key and what it can sign. */
export class Wallet {
  readonly signer: NobleSigner;
  readonly keyHash: Uint8Array;
  /** Segwit v0 key-hash script of the wallet key. */
  readonly p2wpkhScript: Uint8Array;
  /** Legacy key-hash script of the wallet key. */
  readonly p2pkhScript: Uint8Array;
  /** bcrt1q... address. */
  readonly p2wpkhAddress: string;
  /** m/n... address. */
  readonly p2pkhAddress: string;

  /** Derives the key from a seed string (deterministic, so runs are reproducible). */
  constructor(seed: string) {
    this.signer = new NobleSigner(sha256(new TextEncoder().encode(seed)));
    this.keyHash = hash160(this.signer.publicKey);
    this.p2wpkhScript = p2wpkhScript(this.keyHash);
    this.p2pkhScript = p2pkhScript(this.keyHash);
    const network = networks.regtest;
    this.p2wpkhAddress = payments.p2wpkh({ pubkey: this.signer.publicKey, network }).address ?? "";
    this.p2pkhAddress = payments.p2pkh({ pubkey: this.signer.publicKey, network }).address ?? "";
  }

  /** Whether an output script pays this wallet. */
  isMine(script: Uint8Array): boolean {
    return bytesEqual(script, this.p2wpkhScript) || bytesEqual(script, this.p2pkhScript);
  }

  /**
   * Builds and signs a version-2 transaction spending wallet coins (SIGHASH_ALL).
   *
   * @throws {TypeError} when a coin is not a wallet script.
   * @throws {Error} if bitcoinjs-lib and the devnet codec disagree on the txid.
   */
  spend(
    coins: readonly SpendableCoin[],
    outputs: readonly { script: Uint8Array; valueSats: bigint }[],
    locktime: number,
  ): ParsedTx {
    const tx = new Transaction();
    tx.version = 2;
    tx.locktime = locktime;
    for (const coin of coins) tx.addInput(displayHexToHash(coin.txid), coin.vout, 0xfffffffd);
    for (const output of outputs) tx.addOutput(output.script, output.valueSats);
    coins.forEach((coin, index) => {
      if (bytesEqual(coin.script, this.p2wpkhScript)) {
        const hash = tx.hashForWitnessV0(
          index,
          this.p2pkhScript,
          coin.valueSats,
          Transaction.SIGHASH_ALL,
        );
        const signature = bscript.signature.encode(this.signer.sign(hash), Transaction.SIGHASH_ALL);
        tx.setWitness(index, [signature, this.signer.publicKey]);
      } else if (bytesEqual(coin.script, this.p2pkhScript)) {
        const hash = tx.hashForSignature(index, this.p2pkhScript, Transaction.SIGHASH_ALL);
        const signature = bscript.signature.encode(this.signer.sign(hash), Transaction.SIGHASH_ALL);
        tx.setInputScript(index, bscript.compile([signature, this.signer.publicKey]));
      } else {
        throw new TypeError(`Cannot sign input ${index}: not a wallet script`);
      }
    });
    const parsed = parseTx(tx.toBuffer());
    if (parsed.txid !== tx.getId()) {
      throw new Error(`Cannot trust transaction: txid ${parsed.txid} != bitcoinjs ${tx.getId()}`);
    }
    return parsed;
  }
}
