import type { InventoryItem } from '../core/types.js';
import { groupId, resourceId } from './route.js';
import {
  type ArmStore,
  type Lifecycle,
  newResourceGroup,
  provisioningState,
  type ResourceGroupRecord,
  type SubnetRecord,
} from './store.js';

/**
 * Plain-JSON state for `stateFile` persistence. Monotonic times become remaining milliseconds so a restarted
 * simulator continues where it stopped; pending deletes are completed before a snapshot is taken.
 */
type Plain = Record<string, unknown>;

const SNAPSHOT_VERSION = 1;

function life(r: Lifecycle, now: number): Plain {
  return {
    gen: r.gen,
    readyIn: Math.max(0, r.readyAt - now),
    createdAt: r.createdAt,
    failed: r.failed,
    updating: r.updating,
  };
}

function unlife(p: Plain, now: number): Lifecycle {
  return {
    gen: Number(p.gen),
    readyAt: now + Number(p.readyIn ?? 0),
    createdAt: Number(p.createdAt ?? Date.now()),
    failed: p.failed as Lifecycle['failed'],
    updating: p.updating === true ? true : undefined,
  };
}

function pick<T extends object>(r: T, keys: readonly (keyof T)[]): Plain {
  const out: Plain = {};
  for (const k of keys) if (r[k] !== undefined) out[k as string] = r[k];
  return out;
}

export function snapshotState(store: ArmStore, now: number): unknown {
  const subscriptions: Plain = {};
  for (const [sub, groups] of store.subscriptions) {
    subscriptions[sub] = [...groups.values()].map((rg) => ({
      ...life(rg, now),
      name: rg.name,
      location: rg.location,
      tags: rg.tags,
      vnets: [...rg.vnets.values()].map((v) => ({
        ...life(v, now),
        ...pick(v, ['name', 'location', 'tags', 'addressPrefixes', 'guid']),
        subnets: [...v.subnets.values()].map((s) => ({
          ...life(s, now),
          ...pick(s, ['name', 'addressPrefix', 'base', 'size', 'nsgId']),
          used: [...s.used],
        })),
      })),
      nsgs: [...rg.nsgs.values()].map((n) => ({
        ...life(n, now),
        ...pick(n, ['name', 'location', 'tags', 'guid']),
        rules: [...n.rules.values()].map((r) => ({ ...life(r, now), name: r.name, properties: r.properties })),
      })),
      nics: [...rg.nics.values()].map((n) => ({
        ...life(n, now),
        ...pick(n, [
          'name',
          'location',
          'tags',
          'subnetId',
          'ip',
          'ipConfigName',
          'allocation',
          'nsgId',
          'vmId',
          'publicIpId',
          'publicIpDelete',
          'seq',
        ]),
      })),
      publicIps: [...rg.publicIps.values()].map((p) => ({
        ...life(p, now),
        ...pick(p, ['name', 'location', 'tags', 'sku', 'allocation', 'zones', 'address', 'ipConfigurationId', 'seq']),
      })),
      vms: [...rg.vms.values()].map((v) => ({
        ...life(v, now),
        ...pick(v, [
          'name',
          'location',
          'tags',
          'size',
          'zone',
          'nics',
          'nicDelete',
          'computerName',
          'adminUsername',
          'customDataHash',
          'sshKeys',
          'image',
          'osDiskDelete',
          'vmssId',
          'seq',
        ]),
      })),
      disks: [...rg.disks.values()].map((d) => ({
        ...life(d, now),
        ...pick(d, ['name', 'location', 'tags', 'zone', 'sizeGB', 'sku', 'managedBy', 'vmTags', 'seq']),
      })),
      vmss: [...rg.vmss.values()].map((s) => ({
        ...life(s, now),
        ...pick(s, [
          'name',
          'location',
          'tags',
          'faultDomains',
          'zones',
          'sku',
          'singlePlacementGroup',
          'profile',
          'seq',
        ]),
      })),
    }));
  }
  return { version: SNAPSHOT_VERSION, counters: store.counters(), subscriptions };
}

const arr = (v: unknown): Plain[] => (Array.isArray(v) ? (v as Plain[]) : []);

export function restoreState(store: ArmStore, state: unknown, now: number): void {
  const root = state as Plain;
  if (!root || root.version !== SNAPSHOT_VERSION) return;
  store.subscriptions.clear();
  store.setCounters(root.counters as { gen: number; seq: number });
  for (const [sub, list] of Object.entries((root.subscriptions ?? {}) as Plain)) {
    const groups = store.groups(sub);
    for (const g of arr(list)) {
      const rg: ResourceGroupRecord = Object.assign(
        newResourceGroup(String(g.name), String(g.location), store.intern.tagsOf(g.tags), 0, now),
        unlife(g, now),
      );
      for (const v of arr(g.vnets)) {
        const subnets = new Map<string, SubnetRecord>();
        for (const s of arr(v.subnets)) {
          subnets.set(String(s.name).toLowerCase(), {
            ...unlife(s, now),
            name: String(s.name),
            addressPrefix: String(s.addressPrefix),
            base: Number(s.base),
            size: Number(s.size),
            nsgId: s.nsgId as string | undefined,
            used: new Set(arr(s.used).map(Number)),
          });
        }
        rg.vnets.set(String(v.name).toLowerCase(), {
          ...unlife(v, now),
          name: String(v.name),
          location: String(v.location),
          tags: store.intern.tagsOf(v.tags),
          addressPrefixes: (v.addressPrefixes as string[]) ?? [],
          guid: String(v.guid),
          subnets,
        });
      }
      for (const n of arr(g.nsgs)) {
        const rules = new Map(
          arr(n.rules).map(
            (r) =>
              [
                String(r.name).toLowerCase(),
                { ...unlife(r, now), name: String(r.name), properties: r.properties as Plain },
              ] as const,
          ),
        );
        rg.nsgs.set(String(n.name).toLowerCase(), {
          ...unlife(n, now),
          name: String(n.name),
          location: String(n.location),
          tags: store.intern.tagsOf(n.tags),
          guid: String(n.guid),
          rules,
        });
      }
      for (const n of arr(g.nics)) {
        rg.nics.set(String(n.name).toLowerCase(), {
          ...(n as object),
          ...unlife(n, now),
          tags: store.intern.tagsOf(n.tags),
        } as never);
      }
      for (const p of arr(g.publicIps)) {
        rg.publicIps.set(String(p.name).toLowerCase(), {
          ...(p as object),
          ...unlife(p, now),
          tags: store.intern.tagsOf(p.tags),
        } as never);
      }
      for (const v of arr(g.vms)) {
        rg.vms.set(String(v.name).toLowerCase(), {
          ...(v as object),
          ...unlife(v, now),
          tags: store.intern.tagsOf(v.tags),
        } as never);
      }
      for (const d of arr(g.disks)) {
        rg.disks.set(String(d.name).toLowerCase(), {
          ...(d as object),
          ...unlife(d, now),
          tags: store.intern.tagsOf(d.tags),
          vmTags: d.vmTags === undefined ? undefined : store.intern.tagsOf(d.vmTags),
        } as never);
      }
      for (const s of arr(g.vmss)) {
        rg.vmss.set(String(s.name).toLowerCase(), {
          ...(s as object),
          ...unlife(s, now),
          tags: store.intern.tagsOf(s.tags),
        } as never);
      }
      groups.set(rg.name.toLowerCase(), rg);
      store.vmsChanged(rg);
    }
  }
}

/** Every live resource, for the admin endpoint. */
export function inventoryOf(store: ArmStore, now: number): InventoryItem[] {
  const items: InventoryItem[] = [];
  for (const [sub, groups] of store.subscriptions) {
    for (const rg of groups.values()) {
      items.push({
        cloud: 'azure',
        type: 'Microsoft.Resources/resourceGroups',
        id: groupId(sub, rg.name),
        region: rg.location,
        state: rg.deleteAt !== undefined ? 'Deleting' : 'Succeeded',
        tags: rg.tags,
      });
      const add = (
        type: string,
        path: string[],
        r: Lifecycle & { location: string; tags: Readonly<Record<string, string>> },
        zone?: string,
      ) =>
        items.push({
          cloud: 'azure',
          type,
          id: resourceId(sub, rg.name, type.split('/')[0]!, type.split('/')[1]!, ...path),
          region: r.location,
          zone,
          state: provisioningState(r, now),
          tags: r.tags,
        });
      for (const v of rg.vnets.values()) add('Microsoft.Network/virtualNetworks', [v.name], v);
      for (const n of rg.nsgs.values()) add('Microsoft.Network/networkSecurityGroups', [n.name], n);
      for (const n of rg.nics.values()) add('Microsoft.Network/networkInterfaces', [n.name], n);
      for (const p of rg.publicIps.values()) add('Microsoft.Network/publicIPAddresses', [p.name], p);
      for (const s of rg.vmss.values()) add('Microsoft.Compute/virtualMachineScaleSets', [s.name], s);
      for (const v of rg.vms.values()) add('Microsoft.Compute/virtualMachines', [v.name], v, v.zone);
      for (const d of rg.disks.values())
        items.push({
          cloud: 'azure',
          type: 'Microsoft.Compute/disks',
          id: resourceId(sub, rg.name, 'Microsoft.Compute', 'disks', d.name),
          region: d.location,
          zone: d.zone,
          state: d.managedBy ? 'Attached' : 'Unattached',
          tags: d.tags,
          ...(d.vmTags ? { origin: { type: 'Microsoft.Compute/virtualMachines', tags: d.vmTags } } : {}),
        });
    }
  }
  return items;
}
