// The accounting service's own settings, read once at start-up, validated together and frozen.
import { bool, int, loadConfig, str, type ConfigOf } from "../platform/config";

const DECIMAL = /^\d+(\.\d+)?$/;

export const accountingConfigSpec = {
  dailyDepositLimit: str({ env: "ACCOUNTING_DAILY_DEPOSIT_LIMIT", default: "10000", pattern: DECIMAL, description: "deposit limit per portfolio and UTC day" }),
  dailyWithdrawalLimit: str({ env: "ACCOUNTING_DAILY_WITHDRAWAL_LIMIT", default: "5000", pattern: DECIMAL, description: "withdrawal limit per portfolio and UTC day" }),
  importConcurrency: int({ env: "ACCOUNTING_IMPORT_CONCURRENCY", default: 2, min: 1, max: 16, description: "portfolio chunks of an import posted at once" }),
  maxImportRows: int({ env: "ACCOUNTING_MAX_IMPORT_ROWS", default: 1_000_000, min: 1, description: "rows one ImportTransactions call accepts" }),
  poolMax: int({ env: "ACCOUNTING_DB_POOL_MAX", default: 10, min: 1, max: 100, description: "database connections" }),
  fillPrefetch: int({ env: "ACCOUNTING_FILL_PREFETCH", default: 128, min: 1, max: 1000, description: "fills the position worker holds at once" }),
  fillDeliveryLimit: int({ env: "ACCOUNTING_FILL_DELIVERY_LIMIT", default: 5, min: 1, max: 100, description: "deliveries before a fill is dead-lettered" }),
  allocationOutputDir: str({ env: "ALLOCATION_OUTPUT_DIR", default: ".data/allocation", description: "where SendExecutions writes its files" }),
  allocationFileCleanup: bool({ env: "ALLOCATION_FILE_CLEANUP", default: false, description: "delete a sent file after its import" }),
};

export type AccountingConfig = ConfigOf<typeof accountingConfigSpec>;

/** Reads the accounting keys from the environment (every problem reported at once). */
export function loadAccountingConfig(env: NodeJS.ProcessEnv): AccountingConfig {
  return loadConfig(accountingConfigSpec, env);
}
