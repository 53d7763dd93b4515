import type { VirtualMachine } from '@azure/arm-compute';
import type { NetworkInterface, PublicIPAddress } from '@azure/arm-network';
import type { AzureClients } from './clients.js';
import { isNotFound } from './errors.js';
import { type Addresses, parseVmId, powerStateOf, scaleSetOfVm, withScaleSetTags } from './vms.js';

/**
 * Promise.all that waits for every call before it rethrows the first failure: a list call still in flight after
 * a listing has failed would hold its connection open (and a simulator's close with it).
 */
export async function allSettledOrThrow<T extends readonly unknown[]>(
  promises: readonly [...{ [K in keyof T]: Promise<T[K]> }],
): Promise<T> {
  const outcomes = await Promise.allSettled(promises);
  const failed = outcomes.find((o): o is PromiseRejectedResult => o.status === 'rejected');
  if (failed) throw failed.reason;
  return outcomes.map((o) => (o as PromiseFulfilledResult<unknown>).value) as unknown as T;
}

/** A group's VMs with their addresses and power states (by lower-cased VM id). */
export interface GroupListing {
  readonly vms: readonly VirtualMachine[];
  readonly addresses: Addresses;
  readonly power: ReadonlyMap<string, string>;
}

export interface ListingContext {
  readonly clients: AzureClients;
  readonly subscriptionId: string;
  /** Whether VMs have public IPs (else the public IP listing is skipped). */
  readonly publicIp: boolean;
  readonly signal?: AbortSignal;
}

/**
 * Standalone VMs (fixed-address nodes, VMs of older releases) read one GET each; above this many, the whole group
 * is listed instead and the power states come from the subscription's `statusOnly` listing.
 */
const MAX_SINGLE_READS = 16;

/** NICs and public IPs of the group, by lower-cased id, and the ids of the VMs the NICs belong to. */
export async function addressesOf(
  ctx: ListingContext,
  group: string,
): Promise<Addresses & { readonly vmIds: readonly string[] }> {
  const { clients, signal } = ctx;
  const nics = new Map<string, NetworkInterface>();
  const publicIps = new Map<string, PublicIPAddress>();
  const vmIds: string[] = [];
  await allSettledOrThrow([
    (async () => {
      // Only what toInstance reads is kept: a group of thousands holds no full NIC or public IP objects.
      for await (const nic of clients.network.networkInterfaces.list(group, { abortSignal: signal })) {
        const ip = nic.ipConfigurations?.[0];
        if (nic.virtualMachine?.id) vmIds.push(nic.virtualMachine.id);
        if (nic.id)
          nics.set(nic.id.toLowerCase(), {
            ipConfigurations: ip
              ? [
                  {
                    privateIPAddress: ip.privateIPAddress,
                    ...(ip.publicIPAddress?.id ? { publicIPAddress: { id: ip.publicIPAddress.id } } : {}),
                  },
                ]
              : [],
          });
      }
    })(),
    (async () => {
      if (!ctx.publicIp) return;
      for await (const pip of clients.network.publicIPAddresses.list(group, { abortSignal: signal }))
        if (pip.id) publicIps.set(pip.id.toLowerCase(), { ipAddress: pip.ipAddress });
    })(),
  ]);
  return { nics, publicIps, vmIds };
}

/** Every VM of one scale set (the group's listing filtered to the set, 50 a page), with instance views if asked. */
export async function scaleSetMembers(
  ctx: Pick<ListingContext, 'clients' | 'subscriptionId' | 'signal'>,
  group: string,
  scaleSet: string,
  instanceView: boolean,
): Promise<VirtualMachine[]> {
  const id = `/subscriptions/${ctx.subscriptionId}/resourceGroups/${group}/providers/Microsoft.Compute/virtualMachineScaleSets/${scaleSet}`;
  const vms: VirtualMachine[] = [];
  for await (const vm of ctx.clients.compute.virtualMachines.list(group, {
    filter: `virtualMachineScaleSet/id eq '${id}'`,
    ...(instanceView ? { expand: 'instanceView' as const } : {}),
    abortSignal: ctx.signal,
  }))
    vms.push(vm);
  return vms;
}

/** Power states of the group's VMs by lower-cased id, from the subscription-wide `statusOnly` listing. */
async function powerStates(ctx: ListingContext, group: string): Promise<Map<string, string>> {
  const prefix = `/subscriptions/${ctx.subscriptionId}/resourcegroups/${group}/`.toLowerCase();
  const states = new Map<string, string>();
  for await (const vm of ctx.clients.compute.virtualMachines.listAll({ statusOnly: 'true', abortSignal: ctx.signal })) {
    const id = vm.id?.toLowerCase();
    const power = powerStateOf(vm);
    if (id?.startsWith(prefix) && power) states.set(id, power);
  }
  return states;
}

/** The whole group's listing, the power states from the subscription's (two listings of every VM). */
async function wholeGroup(ctx: ListingContext, group: string, addresses: Addresses): Promise<GroupListing> {
  const [vms, power] = await allSettledOrThrow([
    (async () => {
      const all: VirtualMachine[] = [];
      for await (const vm of ctx.clients.compute.virtualMachines.list(group, { abortSignal: ctx.signal })) all.push(vm);
      return all;
    })(),
    powerStates(ctx, group),
  ]);
  return { vms, addresses, power };
}

/**
 * The group's VMs with addresses and power states in few reads: the scale sets and the NICs (which name every VM)
 * first; then each scale set's VMs with their instance views (one filtered listing each) and each standalone VM with
 * its instance view (one GET each). A group with many standalone VMs is listed whole instead.
 */
export async function listGroup(ctx: ListingContext, group: string): Promise<GroupListing> {
  const [setTags, addresses] = await allSettledOrThrow([scaleSetTags(ctx, group), addressesOf(ctx, group)]);
  const listing = await readVms(ctx, group, setTags, addresses);
  return { ...listing, vms: listing.vms.map((vm) => withScaleSetTags(vm, (set) => setTags.get(set))) };
}

/** The group's scale sets: their tags by lower-cased name. */
export async function scaleSetTags(
  ctx: Pick<ListingContext, 'clients' | 'signal'>,
  group: string,
): Promise<Map<string, Record<string, string>>> {
  const sets = new Map<string, Record<string, string>>();
  for await (const s of ctx.clients.compute.virtualMachineScaleSets.list(group, { abortSignal: ctx.signal }))
    if (s.name) sets.set(s.name.toLowerCase(), s.tags ?? {});
  return sets;
}

async function readVms(
  ctx: ListingContext,
  group: string,
  setTags: ReadonlyMap<string, unknown>,
  addresses: Addresses & { readonly vmIds: readonly string[] },
): Promise<GroupListing> {
  const scaleSets = [...setTags.keys()];
  const sets = new Set(scaleSets);
  const standalone = [...new Set(addresses.vmIds.map((id) => id.toLowerCase()))].flatMap((id) => {
    const name = parseVmId(id)?.name;
    const set = name && scaleSetOfVm(name);
    return name && !(set && sets.has(set.toLowerCase())) ? [name] : [];
  });
  if (standalone.length > MAX_SINGLE_READS) return wholeGroup(ctx, group, addresses);
  const [singles, members] = await allSettledOrThrow([
    Promise.all(
      standalone.map((name) =>
        ctx.clients.compute.virtualMachines
          .get(group, name, { expand: 'instanceView', abortSignal: ctx.signal })
          .catch((error: unknown) => {
            if (isNotFound(error)) return undefined; // deleted since its NIC was listed
            throw error;
          }),
      ),
    ),
    Promise.all(scaleSets.map((s) => scaleSetMembers(ctx, group, s, true))),
  ]);
  const vms = [...singles.filter((vm): vm is VirtualMachine => vm !== undefined), ...members.flat()];
  const power = new Map<string, string>();
  for (const vm of vms) {
    const state = powerStateOf(vm);
    if (vm.id && state) power.set(vm.id.toLowerCase(), state);
  }
  return { vms, addresses, power };
}
