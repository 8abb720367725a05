/**
 * Bitcoin Core as the pool's template source and block sink: a JSON-RPC client, an ordered
 * failover pool of `btcd[]` nodes, the ZMQ `hashblock` listener, and the template source the
 * Stratum engine consumes.
 *
 * ```ts
 * const source = new BitcoindTemplateSource(config); // btcd, blockpoll, update_interval, zmqblock
 * await source.start((update) => engine.onTemplate(templateFromGbt(update.gbt, update.receivedAtMs)));
 * const outcome = await source.submitBlock(blockHex);
 * await source.stop();
 * ```
 *
 * Importing this module needs only `--allow-net`; a configured `zmqblock` also needs
 * `--allow-ffi` and `--allow-read` for the zeromq addon when the source starts.
 *
 * @module
 */
export {
  BitcoindRpc,
  type BitcoindRpcOptions,
  type BlockchainInfo,
  type BlockHeaderInfo,
  DEFAULT_RPC_TIMEOUT_MS,
  isNodeUnavailable,
  isTemplateRefusal,
  type NetworkInfo,
  normaliseBtcdUrl,
  type RpcCallOptions,
  RpcError,
  RpcErrorCode,
  RpcTransportError,
  TransportFailure,
  type ValidateAddressResult,
} from "./rpc_client.ts";
export { RpcFieldError, RpcFields } from "./rpc_fields.ts";
export {
  deriveInitialBlockDownload,
  MAX_HEADERS_AHEAD,
  MAX_TIP_AGE_S,
  MIN_VERIFICATION_PROGRESS,
  normaliseChainName,
  type SyncFacts,
} from "./chain_state.ts";
export {
  BitcoindPool,
  type BitcoindPoolOptions,
  type BtcdNodeConfig,
  DEFAULT_BLOCKPOLL_MS,
  type NodeStatus,
  type NodeSubmitResult,
  type NodeSwitchEvent,
  type NodeTip,
  type PoolCallOptions,
  SwitchReason,
} from "./node_pool.ts";
export {
  HASHBLOCK_TOPIC,
  type HashBlockMessage,
  parseHashBlockMessage,
  type SequenceGap,
  SequenceTracker,
  ZmqBlockListener,
  type ZmqBlockListenerOptions,
} from "./zmq_listener.ts";
export {
  type BitcoindSourceConfig,
  BitcoindTemplateSource,
  type BitcoindTemplateSourceOptions,
  type BlockSubmitResult,
  DEFAULT_UPDATE_INTERVAL_S,
  type NodeBlockSubmitResult,
  TemplateReason,
  type TemplateSource,
  TemplateTrigger,
  type TemplateUpdate,
} from "./template_source.ts";
export {
  BlockKeeper,
  type BlockKeeperOptions,
  type BlockSink,
  hasVerdict,
} from "./block_keeper.ts";
export {
  type FoundBlockFile,
  foundBlockFileName,
  FoundBlockState,
  markFoundBlock,
  parseFoundBlockFileName,
  pendingFoundBlocks,
  readFoundBlock,
  saveFoundBlock,
} from "./found_block_file.ts";
export { ObservedBitcoindRpc, type RpcCallObserver, type RpcCallRecord } from "./observed_rpc.ts";
export {
  type MempoolInfo,
  type NodeStats,
  NodeStatsPoller,
  type NodeStatsPollerOptions,
  type NodeStatsSource,
  parseMempoolInfo,
} from "./node_stats_poller.ts";
