from experiments.demo import main

main()
