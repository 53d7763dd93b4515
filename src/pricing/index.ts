export type { CloudPrices, PriceCatalog, TypeShape } from './catalog-2026-12.js';
export { type CostEstimate, estimateCost, type PoolCost } from './cost.js';
export {
  type ChooseOptions,
  catalogTypes,
  chooseInstanceType,
  HOURS_PER_MONTH,
  hourlyPrice,
  PRICE_CATALOG,
  type PricedCloud,
  type TypeChoice,
} from './select.js';
