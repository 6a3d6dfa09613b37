using System.Buffers;
using System.Collections.Concurrent;
using Microsoft.AspNetCore.Connections;

namespace RMTC.Farm.Coordinator.DataPlane;

/// <summary>
/// Kestrel's connection buffers in larger blocks (<see cref="DataPlaneOptions.ReceiveBlockBytes"/>). Kestrel receives
/// into one pool block at a time: with its own 4 KiB blocks an upload of 400 MB costs 100,000 receives, and that, not
/// the sha256, bounded the data plane's PUT. Blocks are pinned (sockets read into them) and kept for reuse up to a cap;
/// a request for more than a block (pipes send those to the shared array pool themselves) gets a one-off array.
/// </summary>
internal sealed class LargeBlockMemoryPoolFactory(int blockBytes) : IMemoryPoolFactory<byte>
{
    /// <summary>Blocks kept for reuse per pool; beyond them a returned block goes to the garbage collector.</summary>
    private const int KeptBlocks = 256;

    public MemoryPool<byte> Create(MemoryPoolOptions? options = null) => new Pool(blockBytes);

    private sealed class Pool(int blockBytes) : MemoryPool<byte>
    {
        private readonly ConcurrentQueue<byte[]> _free = new();

        public override int MaxBufferSize => blockBytes;

        public override IMemoryOwner<byte> Rent(int minBufferSize = -1) => minBufferSize > blockBytes
            ? new Block(null, new byte[minBufferSize])
            : new Block(this, _free.TryDequeue(out var array) ? array : GC.AllocateUninitializedArray<byte>(blockBytes, pinned: true));

        protected override void Dispose(bool disposing) => _free.Clear();

        private void Return(byte[] array)
        {
            if (_free.Count < KeptBlocks)
            {
                _free.Enqueue(array);
            }
        }

        private sealed class Block(Pool? pool, byte[] array) : IMemoryOwner<byte>
        {
            private byte[]? _array = array;

            public Memory<byte> Memory => _array ?? throw new ObjectDisposedException(nameof(Block), "the block went back to its pool");

            public void Dispose()
            {
                if (Interlocked.Exchange(ref _array, null) is { } returned)
                {
                    pool?.Return(returned);
                }
            }
        }
    }
}
