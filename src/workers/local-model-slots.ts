import type { LocalModelLease, LocalModelSlots } from '../activities/deps.js';
import type { ModelConfig } from '../config/models.js';
import type { ModelSlotSupplier } from './model-limits.js';

/**
 * The model slot suppliers of this process's model workers, by model, so a model call the main
 * worker makes itself (a local activity, no task-queue round trip) takes the same PostgreSQL
 * leases as the model's own worker: the per-model limit counts both kinds of call.
 */
export class ModelSlotRegistry implements LocalModelSlots {
  private readonly models = new Map<string, { supplier: ModelSlotSupplier; config: ModelConfig }>();

  add(model: string, supplier: ModelSlotSupplier, config: ModelConfig): void {
    this.models.set(model, { supplier, config });
  }

  serves(model: string): boolean {
    return this.models.has(model);
  }

  async lease(model: string): Promise<LocalModelLease | null> {
    const served = this.models.get(model);
    const permit = served ? await served.supplier.tryLease() : null;
    if (!served || !permit) return null;
    const { supplier, config } = served;
    let released = false;
    return {
      config,
      release() {
        // Once: a second release would hand the same row to a second holder.
        if (released) return;
        released = true;
        supplier.returnLease(permit);
      },
    };
  }
}
