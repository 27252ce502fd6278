/*
 * retract_vs_dontneed.pml: race R3 (../../scenarios/retract_vs_dontneed.scn) in Promela, for SPIN.
 *
 * Mirrors the model's own kernel paths (src/mm) step for step at the granularity of the explorer's
 * scheduling points (docs/explorer.md), restricted to the objects the two CPUs share:
 *
 *   CPU0  MADV_COLLAPSE of a shmem block: mm/khugepaged.c collapse_file() -> try_to_unmap() of the
 *         one page-cache page mapped (page_vma_mapped_walk(): pte_offset_map_lock()), then
 *         retract_page_tables(): finds the PMD without mmap_lock (find_pmd_or_thp_or_none()),
 *         pmd_lock(), [check_pmd_state() again: the guard], pte_lockptr(mm, pmd), spin_lock(ptl),
 *         pmdp_collapse_flush(), unlock, mm_dec_nr_ptes(), pte_free_defer() (call_rcu).
 *         (src/mm/khugepaged.ts collapseFile / tryToUnmap / retractPageTables)
 *   CPUk  MADV_DONTNEED of the whole range: mm/memory.c zap_pmd_range() -> zap_pte_range() under the
 *         PTE lock; with CONFIG_PT_RECLAIM the empty table is detached by mm/pt_reclaim.c
 *         try_get_and_clear_pmd() (fast path: trylock of the PMD lock under the PTE lock) or
 *         try_to_free_pte() (slow path: PMD lock, then PTE lock, reclaim_pt_is_empty() scan);
 *         free_pte() -> pte_free_tlb() -> tlb_remove_table(); tlb_end_vma() flushes;
 *         tlb_finish_mmu() -> tlb_table_flush() -> call_rcu(tlb_remove_table_rcu).
 *         (src/mm/memory/zap.ts zapPmdRange / zapPteRange, src/mm/pt_reclaim.ts, src/mm/mmu_gather.ts)
 *   Rcu   the explorer's RCU task (src/mm/rcu.ts): one step runs every callback whose grace period
 *         has ended, i.e. every CPU that was inside a read-side section at call_rcu() has left it.
 *
 * Abstraction (one 2 MiB block per table; NBLK blocks, NZAP DONTNEED CPUs; the scenario is 1 and 1):
 *   pmd[b]     the PMD slot of block b: 1 = points to PTE table T_b, 0 = none. Nothing refills it in
 *              this scenario (no faults), so "some other table" never occurs.
 *   tstate[b]  T_b's life, as src/mm/pgtable.ts: LINKED, DETACHED (off the tree), QUEUED (handed to
 *              RCU / the gather), FREED.
 *   pte0[b]    the one populated entry of T_b (the setup's `touch A 0 4K read`; 511 others are none
 *              and nobody writes them: the zap's none-run scan over them is one step, as in the model).
 *   pml        the PMD table's split lock (all blocks share one PMD table); ptl[b] T_b's split lock.
 *              Locks: 0 free, else owner CPU + 1; lock = blocking test-and-set, trylock never blocks.
 *   rcu_nest   per-CPU read-side nesting; cb_* the call_rcu() queue (tables freed, CPUs waited for).
 * Not modelled, because no other process writes them here, so they commute with every step and
 * would only multiply interleavings: mmap_lock (readers only), i_mmap_rwsem (CPU0 only), the folio
 * locks (CPU0 only), pgd/pud loads (never written), TLB contents (no violation of this race
 * involves them; a flush is a step that never blocks: no CPU disables interrupts here), RSS.
 *
 * Checks, as the model's sanitizers name them (src/mm/bug.ts):
 *   pt-use-after-free  pte_lockptr() of a PMD that points to no live table (src/mm/ptlock.ts: R3);
 *                      any access to a freed table's entries or lock; detaching a table that is not
 *                      linked (markPteTableDetached()).
 *   nonempty-detach    a table detached with a live entry.
 *   double-free / no-freed-reachable  the grace period frees only queued, unreachable tables.
 *   leak / counter-imbalance at the end: every table freed, nr_ptes back to 0.
 *   deadlock           SPIN's invalid end states.
 *
 * Build switches (spin -D...): GUARD_OFF drops the recheck of the PMD state under the PMD lock in
 * retract_page_tables() (guard retract-pmd-recheck, patch 01 of the 6.14 series, commit
 * 6c18ec9af86c). NBLK (1..8) and NZAP (1..6) scale the model for throughput measurements: NBLK
 * blocks is the scenario with `memfd F 2M*NBLK`, one page touched per block and both madvise calls
 * over the whole range (CPU0 collapses block after block, CPU1 zaps them all in one mmu_gather);
 * NZAP > 1 adds DONTNEED CPUs racing each other too. src/bench/spin.ts runs NBLK=1 (the scenario)
 * guard on and off, and NBLK=8 guard on for states/s.
 *
 * By hand:  spin -a [-DGUARD_OFF] [-DNBLK=8] retract_vs_dontneed.pml && gcc -O2 -DSAFETY -o pan pan.c
 *           && ./pan -m100000      (then, after an error: spin -t -p [-DGUARD_OFF] retract_vs_dontneed.pml)
 * Guard on, every size tried (NBLK x NZAP up to 8x1, 3x2, 2x3): errors: 0. GUARD_OFF: the assertion
 * at pte_lockptr() fails, after the interleaving of races.md R3 (lockless lookup; reclaim; pmd_lock).
 * The other checks are live: call_rcu() that does not wait for readers fails the grace period's
 * "lock not held" assertion (CPU0 still holds the table's lock), and a blocking spin_lock() of the
 * PMD lock in try_get_and_clear_pmd() (R7) is an invalid end state (the ABBA deadlock).
 */

#ifndef NBLK
#define NBLK 1          /* 2 MiB blocks (PTE tables) in the range; at most 8 */
#endif
#ifndef NZAP
#define NZAP 1          /* CPUs doing MADV_DONTNEED of the whole range */
#endif
#define NCPU (NZAP + 1)
#define QMAX (NBLK + NZAP)   /* call_rcu(): one pte_free_defer() per block, one table batch per zap */

mtype = { LINKED, DETACHED, QUEUED, FREED };

bit   pmd[NBLK];
mtype tstate[NBLK];
bit   pte0[NBLK];
byte  ptl[NBLK];
byte  pml;
byte  nr_ptes;              /* mm->pgtables_bytes / PAGE_SIZE */
byte  tlb_pending;          /* mm->tlb_flush_pending (mm_tlb_flush_nested()) */
byte  rcu_nest[NCPU];
byte  cb_tables[QMAX];      /* call_rcu() queue, in call order: bitmask of tables the callback frees */
byte  cb_wait[QMAX];        /* bitmask of CPUs that were in a read-side section at call time */
byte  ncb;
byte  nready;               /* callbacks whose grace period has ended (derived: a function of cb_wait) */
byte  ndone;
hidden byte qi, qj, qk;     /* scratch for loops inside d_steps only */

/* ---- primitives (src/mm/primitives.ts); each statement is one scheduling point ---- */

/* spin_lock() of the PMD lock: blocking test-and-set */
inline pml_lock(me)   { atomic { pml == 0 -> pml = me } }
inline pml_unlock(me) { d_step { assert(pml == me); pml = 0 } }
/* spin_trylock() (try_get_and_clear_pmd(), guard fastpath-pml-trylock on) */
inline pml_trylock(me, ok) { d_step { if :: pml == 0 -> pml = me; ok = 1 :: else -> ok = 0 fi } }

/* the split PTE lock lives in T_b's struct ptdesc: using it after the free is a use-after-free */
inline ptl_lock(b, me)   { atomic { ptl[b] == 0 -> assert(tstate[b] != FREED); ptl[b] = me } }
inline ptl_unlock(b, me) { d_step { assert(ptl[b] == me && tstate[b] != FREED); ptl[b] = 0 } }

/* a load / exchange of T_b's entry (or the none-run scan over it) */
inline pte_load(b, v) { d_step { assert(tstate[b] != FREED); v = pte0[b] } }
inline pte_xchg(b)    { d_step { assert(tstate[b] != FREED); pte0[b] = 0 } }

/* flush_tlb_mm_range(): IPIs; no CPU has interrupts off here, so it never blocks */
#define tlb_flush  skip
/* cond_resched(), need_resched() (false: the scenario does not branch on it) */
#define resched    skip

inline rcu_read_lock(c) { rcu_nest[c]++ }
/* rcu_read_unlock(): leaving the outermost section is this CPU's quiescent state */
inline rcu_read_unlock(c) {
  d_step {
    rcu_nest[c]--;
    if
    :: rcu_nest[c] == 0 ->
       qi = 0;
       do
       :: qi < ncb ->
          if
          :: cb_wait[qi] & (1 << c) ->
             cb_wait[qi] = cb_wait[qi] & ~(1 << c);
             if :: cb_wait[qi] == 0 -> nready++ :: else fi
          :: else
          fi;
          qi++
       :: else -> break
       od
    :: else
    fi
  }
}

/* call_rcu() (src/mm/rcu.ts callRcu): remember the CPUs now inside a reader */
inline call_rcu_body(tables) {
  assert(ncb < QMAX);
  cb_tables[ncb] = tables;
  cb_wait[ncb] = 0;
  qi = 0;
  do
  :: qi < NCPU -> if :: rcu_nest[qi] > 0 -> cb_wait[ncb] = cb_wait[ncb] | (1 << qi) :: else fi; qi++
  :: else -> break
  od;
  if :: cb_wait[ncb] == 0 -> nready++ :: else fi;
  ncb++
}

/* markPteTableDetached() (src/mm/pt_reclaim.ts), after pmd_clear() under the PMD and PTE locks */
inline reclaim_detach(b) {
  d_step {
    assert(pmd[b] == 1 && tstate[b] == LINKED);   /* pt-use-after-free */
    assert(pte0[b] == 0);                         /* nonempty-detach */
    pmd[b] = 0;
    tstate[b] = DETACHED
  }
}

/* ---- CPU0: MADV_COLLAPSE (mm/khugepaged.c madvise_collapse() -> collapse_file()) ---- */

proctype Collapse()
{
  byte b;
  bit pmdv, ptev;

  do
  :: b < NBLK ->
     /* hpage_collapse_scan_file(): page-cache lookups only. collapse_file(): folio_lock(new) and
      * folio_trylock(old) are CPU0's own folios (not modelled). */

     /* try_to_unmap() -> page_vma_mapped_walk() -> pte_offset_map_lock() (pgtable_generic.c):
      * map under RCU, lock the table's lock, retry unless the PMD still points to it. */
unmap_map:
     rcu_read_lock(0);
     pmdv = pmd[b];                                  /* ___pte_offset_map(): pmdp_get_lockless() */
     if
     :: pmdv == 0 -> rcu_read_unlock(0); goto retract   /* no table: nothing mapped */
     :: else
     fi;
     ptl_lock(b, 1);
     if
     :: pmd[b] != pmdv -> ptl_unlock(b, 1); rcu_read_unlock(0); goto unmap_map   /* pmd_same() failed */
     :: else
     fi;
     pte_load(b, ptev);                              /* check_pte(): ptep_get() */
     if
     :: ptev -> pte_xchg(b); tlb_flush                /* ptep_clear_flush(); try_to_unmap_flush() */
     :: else
     fi;
     ptl_unlock(b, 1);                               /* page_vma_mapped_walk_done(): pte_unmap_unlock() */
     rcu_read_unlock(0);

     /* retract_page_tables() (mm/khugepaged.c): no mmap_lock; the new folio is locked. */
retract:
     pmdv = pmd[b];                                  /* find_pmd_or_thp_or_none() -> check_pmd_state(), lockless */
     if
     :: pmdv == 0 -> goto next                       /* SCAN_PMD_NONE: skip this mm */
     :: else
     fi;
     pml_lock(1);                                    /* pml = pmd_lock(mm, pmd) */
#ifndef GUARD_OFF
     if                                              /* patch 01: check_pmd_state() again under the PMD lock */
     :: pmd[b] == 0 -> pml_unlock(1); goto next
     :: else
     fi;
#endif
     /* ptl = pte_lockptr(mm, pmd): derived from *pmd now. With the guard off and the table
      * reclaimed meanwhile, the PMD is none: a bogus lock pointer (R3 step 4, races.md). */
     atomic { pmdv = pmd[b]; assert(pmdv == 1 && tstate[b] != FREED) }   /* pte_lockptr(mm, pmd): pt-use-after-free */
     ptl_lock(b, 1);                                 /* spin_lock_nested(ptl, SINGLE_DEPTH_NESTING) */
     d_step { pmd[b] = 0; tstate[b] = DETACHED }     /* pmdp_collapse_flush(): pmdp_huge_get_and_clear() */
     tlb_flush;                                      /*   ... flush_tlb_range() */
     ptl_unlock(b, 1);
     pml_unlock(1);
     /* mm_dec_nr_ptes(); pte_free_defer(): the table goes to RCU (pte_free_now after a grace period) */
     d_step { nr_ptes--; tstate[b] = QUEUED; call_rcu_body(1 << b) }   /* call_rcu(pte_free_now) */
next:
     b++
  :: else -> break
  od;
  ndone++
}

/* ---- CPUk: MADV_DONTNEED of the whole range (mm/madvise.c -> zap_page_range_single()) ---- */

proctype Zap(byte c)                                  /* c: CPU number, 1..NZAP */
{
  byte b, batch;
  bit pmdv, ptev, direct, ok, unflushed;

  tlb_pending++;                                     /* mmap_lock read; tlb_gather_mmu(): inc_tlb_flush_pending() */
  do
  :: b < NBLK ->
     /* zap_pmd_range() (mm/memory.c) */
pmd_again:
     pmdv = pmd[b];                                  /* pmd_trans_huge() / is_pmd_migration_entry(): never here */
     if
     :: pmd[b] == 0 -> goto next                     /* pmd_none(): nothing to zap */
     :: else
     fi;
     /* zap_pte_range() (mm/memory.c); S1: direct reclaim only if the PTE lock was held throughout */
     direct = 1;
map:
     rcu_read_lock(c);                               /* pte_offset_map_lock() */
     pmdv = pmd[b];                                  /* ___pte_offset_map(): pmdp_get_lockless() */
     if
     :: pmdv == 0 -> rcu_read_unlock(c); resched; goto pmd_again   /* no table: zap_pmd_range() looks again */
     :: else
     fi;
     ptl_lock(b, c + 1);
     if
     :: pmd[b] != pmdv -> ptl_unlock(b, c + 1); rcu_read_unlock(c); goto map
     :: else
     fi;
     resched;                                        /* need_resched(): false */
     pte_load(b, ptev);                              /* do_zap_pte_range(): none-run scan from pte[0] */
     if
     :: ptev ->                                      /* pte[0] present: zap_present_ptes() */
        pte_load(b, ptev);                           /*   ptep_get() */
        pte_xchg(b);                                 /*   get_and_clear_full_ptes(); tlb_remove_tlb_entries() */
        unflushed = 1;
        resched;                                     /* need_resched(): false */
        pte_load(b, ptev)                            /* none-run scan of pte[1..511]: all none */
     :: else                                         /* all 512 none */
     fi;
     /* reclaim_pt_is_enabled(): a whole PMD's range, MADV_DONTNEED: yes */
     if
     :: direct ->                                    /* try_get_and_clear_pmd() (mm/pt_reclaim.c) */
        pml_trylock(c + 1, ok);                      /* PMD lock under the PTE lock: trylock only (R7) */
        if
        :: ok ->
           pmdv = pmd[b];                            /* pmdp_get_lockless() */
           reclaim_detach(b);                        /* pmd_clear() */
           pml_unlock(c + 1)
        :: else -> direct = 0
        fi
     :: else
     fi;
     ptl_unlock(b, c + 1);                           /* pte_unmap_unlock() */
     rcu_read_unlock(c);
     if
     :: direct                                       /* fast path: detached above */
     :: else ->
        /* try_to_free_pte() (mm/pt_reclaim.c): PMD lock, then PTE lock */
        pml_lock(c + 1);
        rcu_read_lock(c);                            /* pte_offset_map_rw_nolock() */
        pmdv = pmd[b];                               /* ___pte_offset_map() */
        if
        :: pmdv == 0 -> rcu_read_unlock(c); pml_unlock(c + 1); goto next   /* gone (retracted) */
        :: else
        fi;
        ptl_lock(b, c + 1);                          /* spin_lock_nested(ptl) */
        pte_load(b, ptev);                           /* reclaim_pt_is_empty(): the 512 entries, one step */
        if
        :: ptev -> ptl_unlock(b, c + 1); rcu_read_unlock(c); pml_unlock(c + 1); goto next
        :: else
        fi;
        rcu_read_unlock(c);                          /* pte_unmap() */
        reclaim_detach(b);                           /* pmd_clear() */
        ptl_unlock(b, c + 1);
        pml_unlock(c + 1)
     fi;
     /* free_pte() -> pte_free_tlb() -> tlb_remove_table(): the first table allocates the batch page
      * (the scenario's batch_alloc choice succeeds); mm_dec_nr_ptes() */
     d_step { tstate[b] = QUEUED; batch = batch | (1 << b); nr_ptes--; unflushed = 1 };   /* free_pte() */
next:
     resched;                                        /* cond_resched() */
     b++
  :: else -> break
  od;
  /* unmap_page_range() -> tlb_end_vma(): tlb_flush_mmu_tlbonly() if anything was unhooked */
  if
  :: unflushed -> tlb_flush; unflushed = 0          /* flush_tlb_mm_range() */
  :: else
  fi;
  /* tlb_finish_mmu(): another gather running on this mm means a full flush (mm_tlb_flush_nested()) */
  if
  :: tlb_pending > 1 -> tlb_flush                   /* flush_tlb_mm_range(), whole mm */
  :: else
  fi;
  /* tlb_flush_mmu() -> tlb_table_flush(): call_rcu(tlb_remove_table_rcu) for the batch */
  if
  :: batch != 0 -> d_step { call_rcu_body(batch); batch = 0 }   /* call_rcu(tlb_remove_table_rcu) */
  :: else
  fi;
  d_step { tlb_pending--; ndone++ }                  /* dec_tlb_flush_pending(); mmap_read_unlock() */
}

/* ---- the RCU grace-period task (src/mm/rcu.ts rcuAdvance) ---- */

proctype Rcu()
{
  do
  :: d_step {
       nready > 0 ->
       /* run every ready callback, in call order (pte_free_now, tlb_remove_table_rcu): free their
        * tables; keep the others, compacted, so that equal queues are equal states */
       qi = 0; qj = 0;
       do
       :: qi < ncb ->
          if
          :: cb_wait[qi] == 0 ->
             qk = 0;
             do
             :: qk < NBLK ->
                if
                :: cb_tables[qi] & (1 << qk) ->
                   assert(tstate[qk] == QUEUED);           /* double-free */
                   assert(pmd[qk] == 0 && ptl[qk] == 0);   /* no-freed-reachable; lock not held */
                   tstate[qk] = FREED                      /* __tlb_remove_table() / pte_free_now() */
                :: else
                fi;
                qk++
             :: else -> break
             od
          :: else ->
             cb_tables[qj] = cb_tables[qi]; cb_wait[qj] = cb_wait[qi]; qj++
          fi;
          qi++
       :: else -> break
       od;
       qi = qj;
       do
       :: qi < ncb -> cb_tables[qi] = 0; cb_wait[qi] = 0; qi++
       :: else -> break
       od;
       ncb = qj;
       nready = 0
     }
  :: (ndone == NCPU && ncb == 0) -> break              /* every CPU done, nothing queued */
  od;
  /* end state (the explorer's end-of-execution invariants): every table freed exactly once and
   * unreachable (leak), nr_ptes balanced (counter-imbalance). atomic: a d_step cannot be a jump target */
  atomic {
    qk = 0;
    do
    :: qk < NBLK -> assert(tstate[qk] == FREED && pmd[qk] == 0); qk++
    :: else -> break
    od;
    assert(nr_ptes == 0)
  }
}

init
{
  byte b;
  atomic {
    assert(NBLK >= 1 && NBLK <= 8 && NZAP >= 1 && NZAP <= 6);   /* byte-wide bitmasks */
    do
    :: b < NBLK -> pmd[b] = 1; tstate[b] = LINKED; pte0[b] = 1; b++
    :: else -> break
    od;
    nr_ptes = NBLK;
    b = 0;
    run Rcu();
    run Collapse();
    do
    :: b < NZAP -> b++; run Zap(b)
    :: else -> break
    od
  }
}
