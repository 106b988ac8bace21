// Prints the partition the Apache Kafka Java producer picks for kbench's keys, so kbench's
// murmur2 can be checked bit for bit against the real client (not against a re-implementation).
//
// Run: java -cp '/path/to/kafka/libs/*' harness/tests/java/Murmur2Vectors.java [count]
//
// Output (CSV, one header line): key,murmur2,partition_6,partition_24
//   murmur2      = org.apache.kafka.common.utils.Utils.murmur2(key bytes), as a signed Java int
//   partition_N  = BuiltInPartitioner.partitionForKey(key bytes, N): what KafkaProducer uses
//                  for a keyed record when no partition and no custom partitioner are given.
// Keys are "key-0" .. "key-{count-1}" (default count 1000), UTF-8, as kbench's KeyGen makes them.

import java.nio.charset.StandardCharsets;

import org.apache.kafka.clients.producer.internals.BuiltInPartitioner;
import org.apache.kafka.common.utils.Utils;

public class Murmur2Vectors {
    public static void main(String[] args) {
        int count = args.length > 0 ? Integer.parseInt(args[0]) : 1000;
        StringBuilder out = new StringBuilder(count * 32);
        out.append("key,murmur2,partition_6,partition_24\n");
        for (int i = 0; i < count; i++) {
            String key = "key-" + i;
            byte[] bytes = key.getBytes(StandardCharsets.UTF_8);
            out.append(key).append(',')
                .append(Utils.murmur2(bytes)).append(',')
                .append(BuiltInPartitioner.partitionForKey(bytes, 6)).append(',')
                .append(BuiltInPartitioner.partitionForKey(bytes, 24)).append('\n');
        }
        System.out.print(out);
    }
}
