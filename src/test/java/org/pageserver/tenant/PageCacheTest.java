package org.pageserver.tenant;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.time.Duration;
import org.apache.pekko.actor.testkit.typed.javadsl.TestKitJUnit5Extension;
import org.apache.pekko.actor.testkit.typed.javadsl.TestProbe;
import org.apache.pekko.actor.testkit.typed.annotations.JUnit5TestKit;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.apache.pekko.actor.testkit.typed.javadsl.JUnit5TestKitBuilder;
import org.apache.pekko.actor.typed.ActorRef;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;
import org.pageserver.Settings;
import org.pageserver.protocol.ForkNumber;
import org.pageserver.protocol.Lsn;
import org.pageserver.protocol.RelTag;
import org.pageserver.storage.StoreBatch;
import org.pageserver.storage.TenantStore;

/** GetPage waiters park until the watermark passes their LSN, and time out clearly. */
@ExtendWith(TestKitJUnit5Extension.class)
class PageCacheTest {
    @JUnit5TestKit
    ActorTestKit testKit = new JUnit5TestKitBuilder().withCustomConfig(TestSupport.config()).build();

    static final RelTag REL = new RelTag(1663, 5, 16384, ForkNumber.MAIN);
    static final Lsn CONSISTENT = Lsn.parse("0/10000");

    @TempDir
    Path dir;
    TenantStore store;

    @BeforeEach
    void setUp() {
        store = TenantStore.open(dir, false);
        try (StoreBatch b = store.newBatch()) {
            b.putImage(REL, 0, Lsn.parse("0/8000"), TestSupport.page(7));
            b.putRelSize(REL, Lsn.parse("0/8000"), 1);
            b.commit();
        }
    }

    @AfterEach
    void tearDown() {
        store.close();
    }

    ActorRef<PageCache.Command> spawn(Duration waitTimeout) {
        Settings s = TestSupport.settings(dir, waitTimeout);
        ActorRef<RedoWorker.Command> redo = testKit.spawn(RedoWorker.create());
        return testKit.spawn(PageCache.create(store, CONSISTENT, s, redo));
    }

    @Test
    void aBurstOfMissesIsReadInBatchesAndEveryRequestGetsItsOwnPage() {
        // 40 blocks, more than one storage task takes; each block's page is filled with its number
        RelTag big = new RelTag(1663, 5, 16385, ForkNumber.MAIN);
        try (StoreBatch b = store.newBatch()) {
            for (int blk = 0; blk < 40; blk++) {
                b.putImage(big, blk, Lsn.parse("0/8000"), TestSupport.page(blk + 1));
            }
            b.putRelSize(big, Lsn.parse("0/8000"), 40);
            b.commit();
        }
        ActorRef<PageCache.Command> cache = spawn(Duration.ofSeconds(30));
        cache.tell(new PageCache.WalWatermark(Lsn.parse("0/20000")));
        java.util.List<TestProbe<PageCache.PageReply>> probes = new java.util.ArrayList<>();
        for (int blk = 0; blk < 40; blk++) {
            TestProbe<PageCache.PageReply> p = testKit.createTestProbe();
            probes.add(p);
            cache.tell(new PageCache.GetPage(big, blk, Lsn.parse("0/20000"), true, p.getRef()));
        }
        // and two that fail alone in the same burst: past the end, and a relation that does not exist
        TestProbe<PageCache.PageReply> pastEnd = testKit.createTestProbe();
        cache.tell(new PageCache.GetPage(big, 40, Lsn.parse("0/20000"), true, pastEnd.getRef()));
        TestProbe<PageCache.PageReply> noRel = testKit.createTestProbe();
        cache.tell(new PageCache.GetPage(new RelTag(1663, 5, 99999, ForkNumber.MAIN), 0, Lsn.parse("0/20000"), true,
            noRel.getRef()));
        for (int blk = 0; blk < 40; blk++) {
            PageCache.Page page = probes.get(blk).expectMessageClass(PageCache.Page.class, Duration.ofSeconds(5));
            assertArrayEquals(TestSupport.page(blk + 1), page.image(), "block " + blk);
        }
        assertTrue(pastEnd.expectMessageClass(PageCache.ReadFailed.class).message().contains("block 40 of relation"));
        assertTrue(noRel.expectMessageClass(PageCache.ReadFailed.class).message().contains("does not exist"));
        // the relation's size was learnt from those reads: past the end fails again, now from memory
        cache.tell(new PageCache.GetPage(big, 41, Lsn.parse("0/20000"), true, pastEnd.getRef()));
        assertTrue(pastEnd.expectMessageClass(PageCache.ReadFailed.class).message().contains("(relation has 40 blocks)"));
    }

    @Test
    void parksUntilTheWatermarkPassesAndAnswersAtOnceAfter() {
        ActorRef<PageCache.Command> cache = spawn(Duration.ofSeconds(30));
        TestProbe<PageCache.PageReply> probe = testKit.createTestProbe();
        cache.tell(new PageCache.WalWatermark(Lsn.parse("0/20000")));
        cache.tell(new PageCache.GetPage(REL, 0, Lsn.parse("0/25000"), false, probe.getRef()));
        probe.expectNoMessage(Duration.ofMillis(300));
        cache.tell(new PageCache.WalWatermark(Lsn.parse("0/25000")));
        PageCache.Page p = probe.expectMessageClass(PageCache.Page.class);
        assertArrayEquals(TestSupport.page(7), p.image());
        assertEquals(Lsn.parse("0/25000"), p.lsn());

        // at or below the watermark: no waiting
        cache.tell(new PageCache.GetPage(REL, 0, Lsn.parse("0/15000"), false, probe.getRef()));
        assertEquals(Lsn.parse("0/15000"), probe.expectMessageClass(PageCache.Page.class, Duration.ofSeconds(3)).lsn());
        // latest: the newest available
        cache.tell(new PageCache.GetPage(REL, 0, Lsn.parse("0/15000"), true, probe.getRef()));
        assertEquals(Lsn.parse("0/25000"), probe.expectMessageClass(PageCache.Page.class).lsn());
    }

    @Test
    void waitersTimeOutWithAClearError() {
        ActorRef<PageCache.Command> cache = spawn(Duration.ofMillis(200));
        TestProbe<PageCache.PageReply> probe = testKit.createTestProbe();
        cache.tell(new PageCache.WalWatermark(Lsn.parse("0/20000")));
        cache.tell(new PageCache.GetPage(REL, 0, Lsn.parse("1/0"), false, probe.getRef()));
        PageCache.ReadFailed f = probe.expectMessageClass(PageCache.ReadFailed.class, Duration.ofSeconds(3));
        assertTrue(f.message().contains("1/0") && f.message().contains("not received"), f.message());
        // the late watermark does not answer twice
        cache.tell(new PageCache.WalWatermark(Lsn.parse("2/0")));
        probe.expectNoMessage(Duration.ofMillis(200));
    }

    @Test
    void refusesLsnZeroBelowConsistentAndMissingBlocks() {
        ActorRef<PageCache.Command> cache = spawn(Duration.ofSeconds(30));
        TestProbe<PageCache.PageReply> probe = testKit.createTestProbe();
        cache.tell(new PageCache.WalWatermark(Lsn.parse("0/20000")));
        cache.tell(new PageCache.GetPage(REL, 0, Lsn.INVALID, false, probe.getRef()));
        assertTrue(probe.expectMessageClass(PageCache.ReadFailed.class).message().contains("0/0"));
        cache.tell(new PageCache.GetPage(REL, 0, Lsn.parse("0/9000"), false, probe.getRef()));
        assertTrue(probe.expectMessageClass(PageCache.ReadFailed.class).message().contains("consistent"));
        cache.tell(new PageCache.GetPage(REL, 1, Lsn.parse("0/15000"), false, probe.getRef()));
        assertTrue(probe.expectMessageClass(PageCache.ReadFailed.class).message().contains("block 1"));
        cache.tell(new PageCache.GetPage(REL.withFork(ForkNumber.FSM), 0, Lsn.parse("0/15000"), false, probe.getRef()));
        assertTrue(probe.expectMessageClass(PageCache.ReadFailed.class).message().contains("does not exist"));

        TestProbe<PageCache.RelSizeReply> sizes = testKit.createTestProbe();
        cache.tell(new PageCache.GetRelSize(REL, Lsn.parse("0/15000"), false, sizes.getRef()));
        assertEquals(new PageCache.RelSize(true, 1, Lsn.parse("0/15000")), sizes.expectMessageClass(PageCache.RelSize.class));
        cache.tell(new PageCache.GetRelSize(REL.withFork(ForkNumber.VISIBILITYMAP), Lsn.parse("0/15000"), false, sizes.getRef()));
        assertEquals(new PageCache.RelSize(false, 0, Lsn.parse("0/15000")), sizes.expectMessageClass(PageCache.RelSize.class));
    }

    /**
     * Pages and sizes cached as of the watermark answer without storage until a watermark
     * brings a change to them: a changed block, a grown relation, a dropped one.
     */
    @Test
    void cachedPagesAndSizesFollowTheChangesThatComeWithTheWatermark() {
        ActorRef<PageCache.Command> cache = spawn(Duration.ofSeconds(30));
        TestProbe<PageCache.PageReply> probe = testKit.createTestProbe();
        TestProbe<PageCache.RelSizeReply> sizes = testKit.createTestProbe();
        cache.tell(new PageCache.WalWatermark(Lsn.parse("0/20000")));
        cache.tell(new PageCache.GetPage(REL, 0, Lsn.parse("0/20000"), true, probe.getRef()));
        assertArrayEquals(TestSupport.page(7), probe.expectMessageClass(PageCache.Page.class).image());
        cache.tell(new PageCache.GetRelSize(REL, Lsn.parse("0/20000"), true, sizes.getRef()));
        assertEquals(1, sizes.expectMessageClass(PageCache.RelSize.class).nblocks());

        org.pageserver.storage.StoreChanges changes;
        try (StoreBatch b = store.newBatch()) {
            b.putImage(REL, 0, Lsn.parse("0/21000"), TestSupport.page(8));
            b.putImage(REL, 1, Lsn.parse("0/21000"), TestSupport.page(9));
            b.putRelSize(REL, Lsn.parse("0/21000"), 2);
            b.commit();
            changes = b.changes();
        }
        assertEquals(2, changes.pages().size());
        // stored, but not yet announced: reads as of the watermark still see the old page
        cache.tell(new PageCache.GetPage(REL, 0, Lsn.parse("0/20000"), true, probe.getRef()));
        assertArrayEquals(TestSupport.page(7), probe.expectMessageClass(PageCache.Page.class).image());
        cache.tell(new PageCache.WalWatermark(Lsn.parse("0/22000"), changes));
        cache.tell(new PageCache.GetPage(REL, 0, Lsn.parse("0/20000"), true, probe.getRef()));
        assertArrayEquals(TestSupport.page(8), probe.expectMessageClass(PageCache.Page.class).image());
        cache.tell(new PageCache.GetPage(REL, 1, Lsn.parse("0/20000"), true, probe.getRef()));
        assertArrayEquals(TestSupport.page(9), probe.expectMessageClass(PageCache.Page.class).image());
        cache.tell(new PageCache.GetRelSize(REL, Lsn.parse("0/20000"), true, sizes.getRef()));
        assertEquals(2, sizes.expectMessageClass(PageCache.RelSize.class).nblocks());
        // the old version is still there for a read as of its LSN
        cache.tell(new PageCache.GetPage(REL, 0, Lsn.parse("0/20000"), false, probe.getRef()));
        assertArrayEquals(TestSupport.page(7), probe.expectMessageClass(PageCache.Page.class).image());
        cache.tell(new PageCache.GetPage(REL, 0, Lsn.parse("0/20000"), true, probe.getRef()));
        assertArrayEquals(TestSupport.page(8), probe.expectMessageClass(PageCache.Page.class).image());

        try (StoreBatch b = store.newBatch()) {
            b.dropRel(REL, Lsn.parse("0/23000"));
            b.commit();
            changes = b.changes();
        }
        cache.tell(new PageCache.WalWatermark(Lsn.parse("0/23000"), changes));
        cache.tell(new PageCache.GetPage(REL, 1, Lsn.parse("0/20000"), true, probe.getRef()));
        assertTrue(probe.expectMessageClass(PageCache.ReadFailed.class).message().contains("does not exist"));
        cache.tell(new PageCache.GetRelSize(REL, Lsn.parse("0/20000"), true, sizes.getRef()));
        assertEquals(new PageCache.RelSize(false, 0, Lsn.parse("0/23000")), sizes.expectMessageClass(PageCache.RelSize.class));
    }

    /**
     * The SLRU pseudo-relations have dbNode 0, like the shared catalogs, but belong to no
     * database: a dbsize of database 0 counts the shared catalogs' relations only.
     */
    @Test
    void dbSizeNeverCountsTheSlruPseudoRelations() {
        RelTag shared = new RelTag(RelTag.GLOBALTABLESPACE_OID, 0, 1262, ForkNumber.MAIN);
        try (StoreBatch b = store.newBatch()) {
            b.putRelSize(shared, Lsn.parse("0/8000"), 3);
            for (org.pageserver.protocol.SlruKind k : org.pageserver.protocol.SlruKind.values()) {
                b.putRelSize(k.rel(), Lsn.parse("0/8000"), 40);
            }
            b.commit();
        }
        ActorRef<PageCache.Command> cache = spawn(Duration.ofSeconds(30));
        cache.tell(new PageCache.WalWatermark(Lsn.parse("0/20000")));
        TestProbe<PageCache.DbSizeReply> probe = testKit.createTestProbe();
        cache.tell(new PageCache.GetDbSize(0, Lsn.parse("0/20000"), false, probe.getRef()));
        assertEquals(3 * 8192L, probe.expectMessageClass(PageCache.DbSize.class).bytes());
        cache.tell(new PageCache.GetDbSize(5, Lsn.parse("0/20000"), false, probe.getRef()));
        assertEquals(8192L, probe.expectMessageClass(PageCache.DbSize.class).bytes());
    }
}
