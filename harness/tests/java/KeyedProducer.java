// Produces keys "key-0" .. "key-{count-1}" with value "java" through the real Apache Kafka
// Java producer and its default partitioner, so a test can check where kbench puts the same
// keys against where the Java client put them, on a real topic.
//
// Run: java -cp '/path/to/kafka/libs/*' harness/tests/java/KeyedProducer.java BOOTSTRAP TOPIC COUNT

import java.util.Properties;

import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.StringSerializer;

public class KeyedProducer {
    public static void main(String[] args) throws Exception {
        Properties p = new Properties();
        p.put("bootstrap.servers", args[0]);
        p.put("acks", "all");
        p.put("key.serializer", StringSerializer.class.getName());
        p.put("value.serializer", StringSerializer.class.getName());
        int count = Integer.parseInt(args[2]);
        try (KafkaProducer<String, String> producer = new KafkaProducer<>(p)) {
            for (int i = 0; i < count; i++) {
                producer.send(new ProducerRecord<>(args[1], "key-" + i, "java")).get();
            }
        }
    }
}
