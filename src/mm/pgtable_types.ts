/**
 * Page-table entry values (arch/x86/include/asm/pgtable_types.h, include/linux/swapops.h).
 *
 * An entry is a JS number holding an integer below 2^53. Present entries use the x86 layout: flag
 * bits 0..11 and the pfn from bit 12 (`pfn * 4096 + flags`). NX and bits 52..63 are not modelled.
 * Non-present, non-none entries (swap, migration, PTE markers) use the model's own layout: bit 0
 * clear, a kind in bits 1..5, the x86 software bits for exclusive / uffd-wp / soft-dirty, and the
 * offset (swap offset, pfn, or marker bits) from bit 12. The value 0 is `none`, as on x86.
 *
 * Flags are read with `v & 0xfff`: ToInt32 keeps the low 32 bits of an integer-valued double, so
 * the low 12 bits are exact for every value below 2^53.
 */
import type { Pfn } from './const.js';

export type Pte = number;
export type Pmd = number;

export const _PAGE_PRESENT = 1 << 0;
export const _PAGE_RW = 1 << 1;
export const _PAGE_USER = 1 << 2;
export const _PAGE_ACCESSED = 1 << 5;
export const _PAGE_DIRTY = 1 << 6;
export const _PAGE_PSE = 1 << 7;
export const _PAGE_SPECIAL = 1 << 9; // _PAGE_BIT_SOFTW1
export const _PAGE_UFFD_WP = 1 << 10; // _PAGE_BIT_SOFTW2
export const _PAGE_SOFT_DIRTY = 1 << 11; // _PAGE_BIT_SOFTW3
/** _PAGE_TABLE: what pmd_populate() writes beside the table's pfn. */
export const _PAGE_TABLE = _PAGE_PRESENT | _PAGE_RW | _PAGE_USER | _PAGE_ACCESSED | _PAGE_DIRTY;

/** Non-present entry kinds (the model's encoding of swp_entry_t types). */
export const SWP_SWAPFILE = 1;
export const SWP_MIGRATION_READ = 2;
export const SWP_MIGRATION_READ_EXCLUSIVE = 3;
export const SWP_MIGRATION_WRITE = 4;
export const SWP_DEVICE_PRIVATE = 5;
export const SWP_DEVICE_EXCLUSIVE = 6;
export const SWP_HWPOISON = 7;
export const SWP_PTE_MARKER = 8;
const SWP_KIND_SHIFT = 1;
const SWP_KIND_MASK = 0x1f << SWP_KIND_SHIFT;
export const _PAGE_SWP_EXCLUSIVE = 1 << 6;
export const _PAGE_SWP_UFFD_WP = _PAGE_UFFD_WP;
export const _PAGE_SWP_SOFT_DIRTY = _PAGE_SOFT_DIRTY;

/** include/linux/swapops.h: PTE marker bits. */
export const PTE_MARKER_UFFD_WP = 1 << 0;
export const PTE_MARKER_POISONED = 1 << 1;
export const PTE_MARKER_GUARD = 1 << 2;

const FLAGS = 0x1000;

export const pteNone = (v: Pte): boolean => v === 0;
export const pteFlags = (v: Pte): number => v & 0xfff;
export const ptePresent = (v: Pte): boolean => (v & _PAGE_PRESENT) !== 0;
/** The model's physical memory stays below 2^32 frames (16 TiB), so a pfn fits a uint32. */
export const ptePfn = (v: Pte): Pfn => (v / FLAGS) >>> 0 as Pfn;
export const pteWrite = (v: Pte): boolean => (v & _PAGE_RW) !== 0;
export const pteDirty = (v: Pte): boolean => (v & _PAGE_DIRTY) !== 0;
export const pteYoung = (v: Pte): boolean => (v & _PAGE_ACCESSED) !== 0;
export const pteSpecial = (v: Pte): boolean => (v & _PAGE_SPECIAL) !== 0;
/**
 * pte_protnone() / pmd_protnone(): a PAGE_NONE entry, as NUMA hinting (change_prot_numa()) and a
 * PROT_NONE VMA leave it. The model's PAGE_NONE is present without _PAGE_USER (docs/model.md);
 * x86's is _PAGE_PROTNONE without _PAGE_PRESENT. Both are pte_present() and fault on user access.
 */
export const pteProtnone = (v: Pte): boolean => (v & (_PAGE_PRESENT | _PAGE_USER)) === _PAGE_PRESENT;
export const pteUffdWp = (v: Pte): boolean => (v & _PAGE_UFFD_WP) !== 0;
export const mkPte = (pfn: Pfn, flags: number): Pte => pfn * FLAGS + flags;
export const pteSetFlags = (v: Pte, set: number): Pte => v - (v & 0xfff) + ((v & 0xfff) | set);
export const pteClearFlags = (v: Pte, clear: number): Pte => v - (v & 0xfff) + ((v & 0xfff) & ~clear);

/** Non-present helpers (is_swap_pte() and friends). */
export const isSwapPte = (v: Pte): boolean => v !== 0 && (v & _PAGE_PRESENT) === 0;
export const swpKind = (v: Pte): number => (v & SWP_KIND_MASK) >> SWP_KIND_SHIFT;
export const swpOffset = (v: Pte): number => Math.floor(v / FLAGS);
export const mkSwpPte = (kind: number, offset: number, flags = 0): Pte => offset * FLAGS + (kind << SWP_KIND_SHIFT) + flags;
export const mkMarkerPte = (marker: number): Pte => mkSwpPte(SWP_PTE_MARKER, marker);
export const isPteMarker = (v: Pte): boolean => isSwapPte(v) && swpKind(v) === SWP_PTE_MARKER;
export const pteMarkerBits = (v: Pte): number => (isPteMarker(v) ? swpOffset(v) : 0);
export const isGuardPte = (v: Pte): boolean => (pteMarkerBits(v) & PTE_MARKER_GUARD) !== 0;
export const isUffdWpMarker = (v: Pte): boolean => (pteMarkerBits(v) & PTE_MARKER_UFFD_WP) !== 0;
/** pte_swp_uffd_wp_any(): a non-present entry that is uffd-wp protected, by its bit or as a uffd-wp marker. */
export const pteSwpUffdWpAny = (v: Pte): boolean => isSwapPte(v) && ((v & _PAGE_SWP_UFFD_WP) !== 0 || isUffdWpMarker(v));
/** A genuine swap entry (is_swap_pte() && !non_swap_entry()): its offset is a swap slot. */
export const isSwapEntryPte = (v: Pte): boolean => isSwapPte(v) && swpKind(v) === SWP_SWAPFILE;
/** swp_entry_to_pte(swp_entry(0, offset)), with pte_swp_mkexclusive() when `exclusive`. */
export const mkSwapEntryPte = (offset: number, exclusive: boolean): Pte => mkSwpPte(SWP_SWAPFILE, offset, exclusive ? _PAGE_SWP_EXCLUSIVE : 0);
/** pte_next_swp_offset() (mm/internal.h): the same swap PTE bits, the next slot. */
export const pteNextSwpOffset = (v: Pte): Pte => v + FLAGS;
/** pte_swp_exclusive(). */
export const pteSwpExclusive = (v: Pte): boolean => (v & _PAGE_SWP_EXCLUSIVE) !== 0;
export const isMigrationPte = (v: Pte): boolean => {
  if (!isSwapPte(v)) return false;
  const k = swpKind(v);
  return k === SWP_MIGRATION_READ || k === SWP_MIGRATION_READ_EXCLUSIVE || k === SWP_MIGRATION_WRITE;
};
/**
 * The young and dirty bits of a migration entry (make_migration_entry_young() / _dirty(); x86
 * keeps them in the swap offset, the model in bits 8 and 9, which no other non-present entry uses).
 */
export const _PAGE_SWP_MIG_YOUNG = 1 << 8;
export const _PAGE_SWP_MIG_DIRTY = 1 << 9;
/** swp_entry_to_pte(make_*_migration_entry(pfn)): `kind` is one of the three SWP_MIGRATION_* types. */
export const mkMigrationPte = (kind: number, pfn: Pfn, flags = 0): Pte => mkSwpPte(kind, pfn, flags);
/** is_writable_migration_entry(). */
export const isWritableMigrationPte = (v: Pte): boolean => isSwapPte(v) && swpKind(v) === SWP_MIGRATION_WRITE;
/** is_readable_migration_entry(): readable and not exclusive. */
export const isReadableMigrationPte = (v: Pte): boolean => isSwapPte(v) && swpKind(v) === SWP_MIGRATION_READ;

/**
 * PMD values, as x86 reads them (arch/x86/include/asm/pgtable.h, 6.18). pmd_present() and
 * pmd_trans_huge() test _PAGE_PSE, so a huge PMD that pmdp_invalidate() made non-present while
 * __split_huge_pmd_locked() fills its PTE table is still present and huge to every software walker:
 * they take the PMD lock and wait for the split, rather than skip the block as if it were none.
 * Only the hardware walker (and gup_fast's pmd_access_permitted()) also needs _PAGE_PRESENT.
 */
export const pmdNone = (v: Pmd): boolean => v === 0;
export const pmdPresent = (v: Pmd): boolean => (v & (_PAGE_PRESENT | _PAGE_PSE)) !== 0;
export const pmdTransHuge = (v: Pmd): boolean => (v & _PAGE_PSE) !== 0;
/** pmd_mkinvalid(): the same huge PMD without _PAGE_PRESENT (what pmdp_invalidate() writes). */
export const pmdMkinvalid = (v: Pmd): Pmd => v - (v & _PAGE_PRESENT);
/** A PMD that points to a PTE table (neither none, nor a leaf, nor a migration entry). */
export const pmdIsTable = (v: Pmd): boolean => (v & (_PAGE_PRESENT | _PAGE_PSE)) === _PAGE_PRESENT;
/** is_pmd_migration_entry(): is_swap_pmd() (neither none nor present, PSE counting as present) and a migration type. */
export const isPmdMigrationEntry = (v: Pmd): boolean => !pmdPresent(v) && isSwapPte(v) && isMigrationPte(v);
export const pmdPfn = ptePfn;
/** pmd_populate(): a table entry for the table page at `pfn`. Also used for PUD and PGD entries. */
export const mkTableEntry = (pfn: Pfn): Pmd => mkPte(pfn, _PAGE_TABLE);
export const mkHugePmd = (pfn: Pfn, flags: number): Pmd => mkPte(pfn, flags | _PAGE_PSE | _PAGE_PRESENT);
