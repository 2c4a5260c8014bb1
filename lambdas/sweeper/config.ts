/** The sweeper reads what the status route reads: the table and the skew rule. */
export { loadStatusConfig as loadSweeperConfig, type StatusConfig as SweeperConfig } from '../status/config.js';
